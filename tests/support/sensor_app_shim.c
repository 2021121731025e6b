/* Host harness for firmware/core/sensor_app.c with a generated model: bytes in, bytes out, and a
 * clock the test sets. The cycle counter advances by SHIM_CYCLES_PER_READ per read, so a LATENT's
 * cost is exactly that: it proves the cost plumbing, not a speed. */
#include <string.h>

#include "core/sensor_app.h"
#include "rtlnf_model.h"

#define SHIM_CYCLES_PER_READ 1000u

void shim_init(void);
void shim_set_time_us(uint32_t t_us);
size_t shim_rx(const uint8_t *data, size_t len, uint8_t *out, size_t cap);
size_t shim_poll(uint8_t *out, size_t cap);

static uint8_t s_tx[1 << 18];
static size_t s_tx_len;   /* bytes sent since the last call returned them */
static uint8_t s_encoder_state[RTLNF_MODEL_ENCODER_STATE_BYTES] __attribute__((aligned(8)));
static int8_t s_fallback_scratch[RTLNF_MODEL_FALLBACK_SCRATCH_BYTES];
static sensor_app_t s_app;
static uint32_t s_now_us;
static uint32_t s_cycles;

static void collect(const uint8_t *data, size_t len, void *ctx)
{
    (void)ctx;
    if (s_tx_len + len <= sizeof s_tx) {
        memcpy(s_tx + s_tx_len, data, len);
        s_tx_len += len;
    }
}

static uint32_t clock_ms(void *ctx)
{
    (void)ctx;
    return s_now_us / 1000u;
}

static uint32_t clock_us(void *ctx)
{
    (void)ctx;
    return s_now_us;
}

static uint32_t cycles(void *ctx)
{
    (void)ctx;
    return s_cycles += SHIM_CYCLES_PER_READ;
}

void shim_set_time_us(uint32_t t_us)
{
    s_now_us = t_us;
}

void shim_init(void)
{
    sensor_app_config_t cfg = {
        .encoder = &rtlnf_model_encoder, .fallback = &rtlnf_model_fallback, .classes = RTLNF_MODEL_CLASSES,
        .model_hash = RTLNF_MODEL_HASH_BYTES, .fw_version = {0, 1, 0}, .board = "host", .build_id = "shim",
        .encoder_state = s_encoder_state, .fallback_scratch = s_fallback_scratch,
        .io = {.tx = collect, .millis = clock_ms, .micros = clock_us, .cycles = cycles},
    };
    s_tx_len = 0;
    s_now_us = 0;
    sensor_app_init(&s_app, &cfg);
    sensor_app_send_hello(&s_app);
}

static size_t take(uint8_t *out, size_t cap)
{
    size_t n = s_tx_len < cap ? s_tx_len : cap;
    memcpy(out, s_tx, n);
    s_tx_len = 0;
    return n;
}

/* Feeds data to the application; returns everything it sent since the previous call (the boot
 * HELLO included on the first call). */
size_t shim_rx(const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    sensor_app_rx(&s_app, data, len);
    return take(out, cap);
}

size_t shim_poll(uint8_t *out, size_t cap)
{
    sensor_app_poll(&s_app);
    return take(out, cap);
}
