#include "core/sensor_app.h"

#include <string.h>

#include "core/protocol_defs.h"

static void send_body(sensor_app_t *app, const uint8_t *body, size_t len)
{
    uint8_t wire[FRAME_WIRE_MAX(FRAME_BODY_MAX)];
    size_t n = frame_encode(body, len, wire, sizeof wire);
    if (n > 0) {
        app->cfg.tx(wire, n, app->cfg.tx_ctx);
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
        .substeps = (uint8_t)c->encoder->substeps, .h_frac_bits = 15, .flags = 0,
    };
    copy_text(hello.board, sizeof hello.board, c->board);
    copy_text(hello.build_id, sizeof hello.build_id, c->build_id);
    memcpy(hello.model_hash, c->model_hash, sizeof hello.model_hash);
    send_message(app, RTLNF_MSG_HELLO, &hello, sizeof hello, NULL, 0);
}

static void send_stats(sensor_app_t *app, uint32_t rx_overflows)
{
    rtlnf_msg_stats_t stats = {
        .frames_ok = app->stats.frames_ok, .frames_bad = app->stats.frames_bad,
        .rx_overflows = rx_overflows, .samples = app->stats.samples, .suspended_ms = 0,
        .state = RTLNF_STATE_RUNNING,
    };
    send_message(app, RTLNF_MSG_STATS, &stats, sizeof stats, NULL, 0);
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
    memcpy(&sample, payload, sizeof sample);
    int16_t x[FRAME_BODY_MAX / sizeof(int16_t)];   /* inputs were checked against the body length */
    memcpy(x, payload + sizeof sample, len - sizeof sample);
    if (sample.flags & RTLNF_SAMPLE_FLAG_RESET) {
        memset(app->cfg.h, 0, enc->hidden * sizeof(int16_t));
        app->have_last = false;
    }
    uint32_t dt_us = app->have_last ? sample.t_us - app->last_t_us : 0u;   /* modulo 2^32 */
    ltc_q15_step(enc, app->cfg.h, x, dt_us, app->cfg.scratch);
    app->last_t_us = sample.t_us;
    app->have_last = true;
    app->stats.samples++;
    app->stats.frames_ok++;
    rtlnf_msg_latent_t latent = {.t_us = sample.t_us, .sample_seq = hdr->seq, .flags = 0, .cost = 0};
    send_message(app, RTLNF_MSG_LATENT, &latent, sizeof latent, app->cfg.h, enc->hidden * sizeof(int16_t));
}

static void on_frame(sensor_app_t *app, const uint8_t *body, size_t len, uint32_t rx_overflows)
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
            send_stats(app, rx_overflows);
        } else {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_UNKNOWN_TYPE);
        }
        break;
    }
    case RTLNF_MSG_HEARTBEAT:
        if (plen != sizeof(rtlnf_msg_heartbeat_t)) {
            send_nack(app, hdr.seq, hdr.type, RTLNF_NACK_BAD_LENGTH);
        } else {
            app->stats.frames_ok++;
        }
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
    memset(cfg->h, 0, cfg->encoder->hidden * sizeof(int16_t));
}

void sensor_app_rx(sensor_app_t *app, const uint8_t *data, size_t len, uint32_t rx_overflows)
{
    uint8_t body[FRAME_BODY_MAX + FRAME_CRC_BYTES];
    for (size_t i = 0; i < len; i++) {
        size_t body_len = 0;
        frame_status_t st = frame_decoder_push(&app->decoder, data[i], body, &body_len);
        if (st == FRAME_OK) {
            on_frame(app, body, body_len, rx_overflows);
        } else if (st != FRAME_PENDING && st != FRAME_EMPTY) {
            send_nack(app, 0xFFFFu, 0, nack_reason(st));
        }
    }
}
