/*
 * sensor_app.h - the sensor's link application, portable (no registers): frames in, frames out.
 *
 * Samples come from one of two sources: SAMPLE frames on the link (host injection) or the on-board
 * generator (sample_generator.h), chosen with CONFIG. Each sample is one encoder step with dt from
 * the sample timestamps; every `decimation`-th state goes out as LATENT, or, while the gateway's
 * heartbeats are missing (fallback mode), as the fallback expert's LOCAL_PREDICTION.
 * REQUEST answers HELLO or STATS; malformed or unexpected frames are counted and answered with
 * NACK, never acted on. Message layouts and timing constants: protocol_defs.h (generated from
 * host/link/protocol_spec.py).
 *
 * Time and counters come from the board through sensor_io_t, so the same code runs on the boards
 * and, with a test clock, on the host. All memory is the caller's; nothing is allocated.
 */
#ifndef RTLNF_SENSOR_APP_H
#define RTLNF_SENSOR_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/frame.h"
#include "core/sample_generator.h"
#include "solver/fc_s8.h"
#include "solver/ltc_q15.h"

typedef struct {
    void (*tx)(const uint8_t *data, size_t len, void *ctx);
    uint32_t (*millis)(void *ctx);          /* wraps after ~49 days */
    uint32_t (*micros)(void *ctx);          /* wraps after ~71 minutes */
    uint32_t (*cycles)(void *ctx);          /* CPU cycle counter; NULL where the board has none */
    uint32_t (*rx_overflows)(void *ctx);    /* received bytes dropped by the board */
    uint32_t (*sleep_ms)(void *ctx);        /* time spent waiting for interrupts; may be NULL */
    void *ctx;
} sensor_io_t;

typedef struct {
    const ltc_q15_model_t *encoder;
    const fallback_s8_model_t *fallback;
    uint8_t classes;
    uint8_t model_hash[8];
    uint8_t fw_version[3];
    const char *board;
    const char *build_id;
    uint8_t boot_flags;                     /* RTLNF_HELLO_FLAG_WATCHDOG_RESET when that is why we booted */
    void *encoder_state;                    /* LTC_Q15_STATE_BYTES(hidden, inputs), 8-byte aligned */
    int8_t *fallback_scratch;               /* RTLNF_MODEL_FALLBACK_SCRATCH_BYTES */
    sensor_io_t io;
} sensor_app_config_t;

typedef struct {
    uint32_t frames_ok;
    uint32_t frames_bad;
    uint32_t samples;
    uint32_t latents;
    uint32_t local_predictions;
    uint32_t heartbeats;
    uint32_t suspended_ms;                  /* completed suspensions; the current one is added on read */
} sensor_app_stats_t;

typedef struct {
    sensor_app_config_t cfg;
    frame_decoder_t decoder;
    sensor_app_stats_t stats;
    uint16_t tx_seq;
    uint32_t last_tx_ms;
    /* encoder sequence */
    uint32_t last_t_us;
    bool have_last;
    uint8_t pending_flags;                  /* LATENT flags waiting for the next emitted frame */
    uint8_t decimation;
    uint8_t since_emit;
    /* idle suspend */
    uint32_t last_input_ms;
    bool suspended;
    uint32_t suspended_since_ms;
    /* gateway liveness */
    bool heard_gateway;
    bool fallback;
    uint32_t last_heartbeat_ms;
    /* sample source */
    uint8_t source;
    sample_generator_t generator;
    uint32_t generator_origin_us;
} sensor_app_t;

void sensor_app_init(sensor_app_t *app, const sensor_app_config_t *cfg);

/* Sends HELLO (at boot, and whenever asked). */
void sensor_app_send_hello(sensor_app_t *app);

/* Feeds received bytes; answers go out through cfg.io.tx before this returns. */
void sensor_app_rx(sensor_app_t *app, const uint8_t *data, size_t len);

/* Time-driven work: idle suspend, fallback on heartbeat loss, the sensor's own heartbeat, and
 * samples the generator has due. Call after every wake-up (at least every few milliseconds). */
void sensor_app_poll(sensor_app_t *app);

#endif /* RTLNF_SENSOR_APP_H */
