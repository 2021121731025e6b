#include "core/sensor_app.h"

#include <string.h>

#include "core/protocol_defs.h"

/* Generated samples handled per poll: bounds the time between looks at the UART when the loop
 * has fallen behind the generator's schedule. */
#define GENERATOR_BURST_MAX 4u

static uint32_t now_ms(const sensor_app_t *app)
{
    return app->cfg.io.millis(app->cfg.io.ctx);
}

static void send_body(sensor_app_t *app, const uint8_t *body, size_t len)
{
    uint8_t wire[FRAME_WIRE_MAX(FRAME_BODY_MAX)];
    size_t n = frame_encode(body, len, wire, sizeof wire);
    if (n > 0) {
        app->cfg.io.tx(wire, n, app->cfg.io.ctx);
        app->last_tx_ms = now_ms(app);
    }
}

/* body = header || fixed message part || tail bytes */
static void send_message(sensor_app_t *app, uint8_t type, const void *msg, size_t msg_len,
                         const void *tail, size_t tail_len)
{
    uint8_t body[FRAME_BODY_MAX];
    rtlnf_header_t hdr = {.version = RTLNF_PROTOCOL_VERSION, .type = type, .seq = app->tx_seq++};
    if (sizeof hdr + msg_len + tail_len > sizeof body) {
        return;
    }
    memcpy(body, &hdr, sizeof hdr);
    memcpy(body + sizeof hdr, msg, msg_len);
    if (tail_len > 0) {
        memcpy(body + sizeof hdr + msg_len, tail, tail_len);
    }
    send_body(app, body, sizeof hdr + msg_len + tail_len);
}

static void send_nack(sensor_app_t *app, uint16_t ref_seq, uint8_t ref_type, uint8_t reason)
{
    rtlnf_msg_nack_t nack = {.ref_seq = ref_seq, .ref_type = ref_type, .reason = reason};
    app->stats.frames_bad++;
    send_message(app, RTLNF_MSG_NACK, &nack, sizeof nack, NULL, 0);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src != NULL && src[i] != '\0' && i < cap; i++) {
        dst[i] = src[i];
    }
    for (; i < cap; i++) {
        dst[i] = '\0';
    }
}

void sensor_app_send_hello(sensor_app_t *app)
{
    const sensor_app_config_t *c = &app->cfg;
    rtlnf_msg_hello_t hello = {
        .protocol_version = RTLNF_PROTOCOL_VERSION,
        .fw_major = c->fw_version[0], .fw_minor = c->fw_version[1], .fw_patch = c->fw_version[2],
        .hidden = c->encoder->hidden, .inputs = c->encoder->inputs, .classes = c->classes,
        .substeps = (uint8_t)c->encoder->substeps, .h_frac_bits = 15,
        .flags = (uint8_t)(c->boot_flags | (c->io.cycles != NULL ? RTLNF_HELLO_FLAG_CYCLE_COUNTER : 0u)),
    };
    copy_text(hello.board, sizeof hello.board, c->board);
    copy_text(hello.build_id, sizeof hello.build_id, c->build_id);
    memcpy(hello.model_hash, c->model_hash, sizeof hello.model_hash);
    send_message(app, RTLNF_MSG_HELLO, &hello, sizeof hello, NULL, 0);
}

static void send_stats(sensor_app_t *app)
{
    const sensor_io_t *io = &app->cfg.io;
    uint32_t now = now_ms(app);
    rtlnf_msg_stats_t stats = {
        .uptime_ms = now,
        .frames_ok = app->stats.frames_ok, .frames_bad = app->stats.frames_bad,
        .rx_overflows = io->rx_overflows != NULL ? io->rx_overflows(io->ctx) : 0u,
        .samples = app->stats.samples, .latents = app->stats.latents,
        .local_predictions = app->stats.local_predictions, .heartbeats = app->stats.heartbeats,
        .suspended_ms = app->stats.suspended_ms + (app->suspended ? now - app->suspended_since_ms : 0u),
        .sleep_ms = io->sleep_ms != NULL ? io->sleep_ms(io->ctx) : 0u,
        .state = (uint8_t)((app->suspended ? RTLNF_STATE_SUSPENDED : 0u) | (app->fallback ? RTLNF_STATE_FALLBACK : 0u)),
        .source = app->source, .decimation = app->decimation,
    };
    send_message(app, RTLNF_MSG_STATS, &stats, sizeof stats, NULL, 0);
}

static void reset_sequence(sensor_app_t *app)
{
    ltc_q15_reset(app->cfg.encoder, app->cfg.encoder_state);
    app->have_last = false;
    app->since_emit = 0;   /* decimation counts from the start of every sequence */
}

/* One sample, whichever source it came from: encoder step, then LATENT or LOCAL_PREDICTION. */
static void encode_sample(sensor_app_t *app, uint32_t t_us, uint16_t seq, const int16_t *x, uint8_t latent_flags)
{
    const sensor_app_config_t *c = &app->cfg;
    uint32_t now = now_ms(app);
    if (app->suspended) {
        app->suspended = false;
        app->stats.suspended_ms += now - app->suspended_since_ms;
        app->pending_flags |= RTLNF_LATENT_FLAG_RESUMED;
    }
    app->last_input_ms = now;

    /* dt is the timestamps' difference (modulo 2^32), whatever happened in between: a suspended
     * encoder resumes exactly where an uninterrupted one would be. */
    uint32_t dt_us = app->have_last ? t_us - app->last_t_us : 0u;
    uint32_t c0 = c->io.cycles != NULL ? c->io.cycles(c->io.ctx) : 0u;
    ltc_q15_step(c->encoder, c->encoder_state, x, dt_us);
    uint32_t cost = c->io.cycles != NULL ? c->io.cycles(c->io.ctx) - c0 : 0u;
    app->last_t_us = t_us;
    app->have_last = true;
    app->stats.samples++;
    app->pending_flags |= latent_flags;

    if (++app->since_emit < app->decimation) {
        return;
    }
    app->since_emit = 0;
    if (app->fallback) {
        int8_t scores[FRAME_BODY_MAX];
        uint32_t best = fallback_s8_predict(c->fallback, ltc_q15_h(c->encoder, c->encoder_state), c->fallback_scratch, scores);
        rtlnf_msg_local_prediction_t pred = {.t_us = t_us, .sample_seq = seq, .class_index = (uint8_t)best};
        app->stats.local_predictions++;
        send_message(app, RTLNF_MSG_LOCAL_PREDICTION, &pred, sizeof pred, scores, c->classes);
    } else {
        rtlnf_msg_latent_t latent = {.t_us = t_us, .sample_seq = seq, .flags = app->pending_flags, .cost = cost};
        app->stats.latents++;
        send_message(app, RTLNF_MSG_LATENT, &latent, sizeof latent, ltc_q15_h(c->encoder, c->encoder_state),
                     c->encoder->hidden * sizeof(int16_t));
        app->pending_flags = 0;   /* flags travel with the next LATENT, not with fallback predictions */
    }
}

static void on_sample(sensor_app_t *app, const rtlnf_header_t *hdr, const uint8_t *payload, size_t len)
{
    const ltc_q15_model_t *enc = app->cfg.encoder;
    rtlnf_msg_sample_t sample;
    if (len < sizeof sample || (len - sizeof sample) % sizeof(int16_t) != 0) {
        send_nack(app, hdr->seq, hdr->type, RTLNF_NACK_BAD_LENGTH);
        return;
    }
    if ((len - sizeof sample) / sizeof(int16_t) != enc->inputs) {
        send_nack(app, hdr->seq, hdr->type, RTLNF_NACK_WRONG_INPUTS);
        return;
    }
    if (app->source != RTLNF_SOURCE_UART) {
        send_nack(app, hdr->seq, hdr->type, RTLNF_NACK_SOURCE_BUSY);
        return;
    }
    memcpy(&sample, payload, sizeof sample);
    int16_t x[FRAME_BODY_MAX / sizeof(int16_t)];   /* inputs were checked against the body length */
    memcpy(x, payload + sizeof sample, len - sizeof sample);
    if (sample.flags & RTLNF_SAMPLE_FLAG_RESET) {
        reset_sequence(app);
    }
    app->stats.frames_ok++;
    encode_sample(app, sample.t_us, hdr->seq, x, 0);
}

static void on_config(sensor_app_t *app, const rtlnf_header_t *hdr, const uint8_t *payload, size_t len)
{
    rtlnf_msg_config_t cfg;
    if (len != sizeof cfg) {
        send_nack(app, hdr->seq, hdr->type, RTLNF_NACK_BAD_LENGTH);
        return;
    }
    memcpy(&cfg, payload, sizeof cfg);
    bool generator = cfg.source == RTLNF_SOURCE_GENERATOR;
    if ((cfg.source != RTLNF_SOURCE_UART && !generator) || cfg.decimation == 0 ||
        (generator && cfg.generator_period_us < RTLNF_GENERATOR_MIN_PERIOD_US)) {
        send_nack(app, hdr->seq, hdr->type, RTLNF_NACK_BAD_CONFIG);
        return;
    }
    app->stats.frames_ok++;
    app->source = cfg.source;
    app->decimation = cfg.decimation;
    app->since_emit = 0;
    reset_sequence(app);
    if (generator) {
        sample_generator_init(&app->generator, cfg.generator_period_us, cfg.generator_seed);
        app->generator_origin_us = app->cfg.io.micros(app->cfg.io.ctx);
    }
    send_stats(app);
}

static void on_frame(sensor_app_t *app, const uint8_t *body, size_t len)
{
    rtlnf_header_t hdr;
    if (len < sizeof hdr) {
        send_nack(app, 0xFFFFu, 0, RTLNF_NACK_BAD_LENGTH);
        return;
    }
    memcpy(&hdr, body, sizeof hdr);
    if (hdr.version != RTLNF_PROTOCOL_VERSION) {
        send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_BAD_VERSION);
        return;
    }
    const uint8_t *payload = body + sizeof hdr;
    size_t plen = len - sizeof hdr;
    switch (hdr.type) {
    case RTLNF_MSG_SAMPLE:
        on_sample(app, &hdr, payload, plen);
        break;
    case RTLNF_MSG_CONFIG:
        on_config(app, &hdr, payload, plen);
        break;
    case RTLNF_MSG_REQUEST: {
        rtlnf_msg_request_t req;
        if (plen != sizeof req) {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_BAD_LENGTH);
            break;
        }
        memcpy(&req, payload, sizeof req);
        if (req.what == RTLNF_MSG_HELLO) {
            app->stats.frames_ok++;
            sensor_app_send_hello(app);
        } else if (req.what == RTLNF_MSG_STATS) {
            app->stats.frames_ok++;
            send_stats(app);
        } else {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_UNKNOWN_TYPE);
        }
        break;
    }
    case RTLNF_MSG_ECHO: {
        static const uint8_t zeros[FRAME_BODY_MAX];
        rtlnf_msg_echo_t echo;
        if (plen < sizeof echo) {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_BAD_LENGTH);
            break;
        }
        memcpy(&echo, payload, sizeof echo);
        if (sizeof hdr + sizeof echo + echo.reply_bytes > FRAME_BODY_MAX) {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_BAD_LENGTH);
            break;
        }
        app->stats.frames_ok++;
        size_t reply = echo.reply_bytes;
        echo.reply_bytes = 0;
        send_message(app, RTLNF_MSG_ECHO, &echo, sizeof echo, zeros, reply);
        break;
    }
    case RTLNF_MSG_HEARTBEAT:
        if (plen != sizeof(rtlnf_msg_heartbeat_t)) {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_BAD_LENGTH);
            break;
        }
        app->stats.frames_ok++;
        app->stats.heartbeats++;
        app->heard_gateway = true;
        app->fallback = false;
        app->last_heartbeat_ms = now_ms(app);
        break;
    default:
        send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_UNKNOWN_TYPE);
        break;
    }
}

static uint8_t nack_reason(frame_status_t st)
{
    switch (st) {
    case FRAME_BAD_CRC: return RTLNF_NACK_BAD_CRC;
    case FRAME_BAD_COBS: return RTLNF_NACK_BAD_COBS;
    case FRAME_TOO_SHORT: return RTLNF_NACK_TOO_SHORT;
    default: return RTLNF_NACK_TOO_LONG;
    }
}

void sensor_app_init(sensor_app_t *app, const sensor_app_config_t *cfg)
{
    memset(app, 0, sizeof *app);
    app->cfg = *cfg;
    frame_decoder_init(&app->decoder);
    reset_sequence(app);
    app->decimation = 1;
    app->source = RTLNF_SOURCE_UART;
    app->last_input_ms = now_ms(app);   /* boot counts as input: suspend after SUSPEND_AFTER_MS of silence */
    app->last_tx_ms = app->last_input_ms;
}

void sensor_app_rx(sensor_app_t *app, const uint8_t *data, size_t len)
{
    uint8_t body[FRAME_BODY_MAX + FRAME_CRC_BYTES];
    for (size_t i = 0; i < len; i++) {
        size_t body_len = 0;
        frame_status_t st = frame_decoder_push(&app->decoder, data[i], body, &body_len);
        if (st == FRAME_OK) {
            on_frame(app, body, body_len);
        } else if (st != FRAME_PENDING && st != FRAME_EMPTY) {
            send_nack(app, 0xFFFFu, 0, nack_reason(st));
        }
    }
}

static void run_generator(sensor_app_t *app)
{
    int16_t x[FRAME_BODY_MAX / sizeof(int16_t)];
    uint32_t elapsed_us = app->cfg.io.micros(app->cfg.io.ctx) - app->generator_origin_us;
    for (uint32_t i = 0; i < GENERATOR_BURST_MAX; i++) {
        if ((int32_t)(elapsed_us - sample_generator_next_t_us(&app->generator)) < 0) {
            return;   /* not due yet */
        }
        uint32_t seq = app->generator.count;
        uint32_t t_us = sample_generator_next(&app->generator, x, app->cfg.encoder->inputs);
        encode_sample(app, t_us, (uint16_t)seq, x, RTLNF_LATENT_FLAG_GENERATED);
    }
}

void sensor_app_poll(sensor_app_t *app)
{
    if (app->source == RTLNF_SOURCE_GENERATOR) {
        run_generator(app);
    }
    uint32_t now = now_ms(app);
    if (!app->suspended && now - app->last_input_ms >= RTLNF_SUSPEND_AFTER_MS) {
        app->suspended = true;
        app->suspended_since_ms = now;
    }
    if (app->heard_gateway && !app->fallback && now - app->last_heartbeat_ms >= RTLNF_FALLBACK_AFTER_MS) {
        app->fallback = true;
    }
    if (now - app->last_tx_ms >= RTLNF_SENSOR_HEARTBEAT_PERIOD_MS) {
        rtlnf_msg_heartbeat_t hb = {.uptime_ms = now};
        send_message(app, RTLNF_MSG_HEARTBEAT, &hb, sizeof hb, NULL, 0);
    }
}
