/*
 * sensor_app.h - the sensor's link application, portable (no registers): frames in, frames out.
 *
 * Bytes from the UART go to sensor_app_rx; every frame the application answers with goes out
 * through the tx callback. SAMPLE runs one encoder step and answers LATENT; REQUEST answers HELLO or
 * STATS; malformed or unexpected frames are counted and answered with NACK, never acted on.
 * Message layouts: protocol_defs.h (generated from host/link/protocol_spec.py).
 * All memory is the caller's (state, scratch, model); nothing is allocated.
 */
#ifndef RTLNF_SENSOR_APP_H
#define RTLNF_SENSOR_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/frame.h"
#include "solver/fc_s8.h"
#include "solver/ltc_q15.h"

typedef void (*sensor_tx_fn)(const uint8_t *data, size_t len, void *ctx);

typedef struct {
    const ltc_q15_model_t *encoder;
    const fallback_s8_model_t *fallback;
    uint8_t classes;
    uint8_t model_hash[8];
    uint8_t fw_version[3];
    const char *board;
    const char *build_id;
    int16_t *h;                 /* encoder->hidden */
    void *scratch;              /* LTC_Q15_SCRATCH_BYTES(encoder->hidden) */
    sensor_tx_fn tx;
    void *tx_ctx;
} sensor_app_config_t;

typedef struct {
    uint32_t frames_ok;
    uint32_t frames_bad;
    uint32_t samples;
} sensor_app_stats_t;

typedef struct {
    sensor_app_config_t cfg;
    frame_decoder_t decoder;
    sensor_app_stats_t stats;
    uint32_t last_t_us;
    bool have_last;
    uint16_t tx_seq;
} sensor_app_t;

void sensor_app_init(sensor_app_t *app, const sensor_app_config_t *cfg);

/* Sends HELLO (at boot, and whenever asked). */
void sensor_app_send_hello(sensor_app_t *app);

/* Feeds received bytes; answers go out through cfg.tx before this returns. */
void sensor_app_rx(sensor_app_t *app, const uint8_t *data, size_t len, uint32_t rx_overflows);

#endif /* RTLNF_SENSOR_APP_H */
