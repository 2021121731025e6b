#include "core/frame.h"

uint16_t frame_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

/* COBS over the body followed by its two CRC bytes (fed through get_byte so no copy is needed). */
static uint8_t body_or_crc(const uint8_t *body, size_t len, uint16_t crc, size_t i)
{
    if (i < len) {
        return body[i];
    }
    return i == len ? (uint8_t)(crc & 0xFFu) : (uint8_t)(crc >> 8);
}

size_t frame_encode(const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    if (len > FRAME_BODY_MAX || cap < FRAME_WIRE_MAX(len)) {
        return 0;
    }
    uint16_t crc = frame_crc16(body, len);
    size_t total = len + FRAME_CRC_BYTES;
    out[0] = 0x00;          /* leading delimiter: ends any garbage before this frame */
    size_t code_at = 1;     /* where the current block's code byte goes */
    size_t w = 2;
    uint8_t code = 1;
    for (size_t i = 0; i < total; i++) {
        uint8_t b = body_or_crc(body, len, crc, i);
        if (b == 0) {
            out[code_at] = code;
            code_at = w++;
            code = 1;
        } else {
            out[w++] = b;
            if (++code == 0xFF) {
                out[code_at] = code;
                code_at = w++;
                code = 1;
            }
        }
    }
    out[code_at] = code;
    out[w++] = 0x00;
    return w;
}

void frame_decoder_init(frame_decoder_t *d)
{
    d->len = 0;
    d->overflow = false;
}

static frame_status_t cobs_decode(const uint8_t *raw, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t r = 0, w = 0;
    while (r < n) {
        uint8_t code = raw[r++];
        if (code == 0 || r + (size_t)(code - 1) > n) {
            return FRAME_BAD_COBS;
        }
        if (w + (size_t)(code - 1) + 1 > cap + 1) {   /* the block's data bytes must fit */
            return FRAME_TOO_LONG;
        }
        for (uint8_t k = 1; k < code; k++) {
            out[w++] = raw[r++];
        }
        if (code != 0xFF && r < n) {
            if (w >= cap) {
                return FRAME_TOO_LONG;
            }
            out[w++] = 0;
        }
    }
    *out_len = w;
    return FRAME_OK;
}

frame_status_t frame_decoder_push(frame_decoder_t *d, uint8_t byte, uint8_t *body, size_t *body_len)
{
    if (byte != 0x00) {
        if (d->len < sizeof d->raw) {
            d->raw[d->len++] = byte;
        } else {
            d->overflow = true;
        }
        return FRAME_PENDING;
    }
    size_t n = d->len;
    bool overflow = d->overflow;
    frame_decoder_init(d);
    if (overflow) {
        return FRAME_TOO_LONG;
    }
    if (n == 0) {
        return FRAME_EMPTY;
    }
    size_t decoded = 0;
    frame_status_t st = cobs_decode(d->raw, n, body, FRAME_BODY_MAX + FRAME_CRC_BYTES, &decoded);
    if (st != FRAME_OK) {
        return st;
    }
    if (decoded < FRAME_CRC_BYTES) {
        return FRAME_TOO_SHORT;
    }
    if (decoded > FRAME_BODY_MAX + FRAME_CRC_BYTES) {
        return FRAME_TOO_LONG;
    }
    size_t len = decoded - FRAME_CRC_BYTES;
    uint16_t got = (uint16_t)(body[len] | (body[len + 1] << 8));
    if (got != frame_crc16(body, len)) {
        return FRAME_BAD_CRC;
    }
    *body_len = len;
    return FRAME_OK;
}
