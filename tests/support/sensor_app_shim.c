/* Host harness for firmware/core/sensor_app.c with a generated model: bytes in, bytes out. */
#include <string.h>

#include "core/sensor_app.h"
#include "rtlnf_model.h"

void shim_init(void);
size_t shim_rx(const uint8_t *data, size_t len, uint8_t *out, size_t cap);

static uint8_t s_tx[1 << 18];
static size_t s_tx_len;   /* bytes sent since the last shim_rx returned them */
static int16_t s_h[RTLNF_MODEL_HIDDEN];
static uint8_t s_scratch[LTC_Q15_SCRATCH_BYTES(RTLNF_MODEL_HIDDEN)];
static sensor_app_t s_app;

static void collect(const uint8_t *data, size_t len, void *ctx)
{
    (void)ctx;
    if (s_tx_len + len <= sizeof s_tx) {
        memcpy(s_tx + s_tx_len, data, len);
        s_tx_len += len;
    }
}

void shim_init(void)
{
    sensor_app_config_t cfg = {
        .encoder = &rtlnf_model_encoder, .fallback = &rtlnf_model_fallback, .classes = RTLNF_MODEL_CLASSES,
        .model_hash = RTLNF_MODEL_HASH_BYTES, .fw_version = {0, 1, 0}, .board = "host", .build_id = "shim",
        .h = s_h, .scratch = s_scratch, .tx = collect, .tx_ctx = NULL,
    };
    s_tx_len = 0;
    sensor_app_init(&s_app, &cfg);
    sensor_app_send_hello(&s_app);
}

/* Feeds data to the application; returns everything it sent since the previous call (the boot
 * HELLO included on the first call). */
size_t shim_rx(const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    sensor_app_rx(&s_app, data, len, 0);
    size_t n = s_tx_len < cap ? s_tx_len : cap;
    memcpy(out, s_tx, n);
    s_tx_len = 0;
    return n;
}
