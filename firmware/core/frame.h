/*
 * frame.h - link framing: CRC-16 protected bodies, COBS-encoded, between 0x00 delimiters.
 *
 *   wire:  0x00 COBS(body || crc16_le(body)) 0x00
 *   crc16: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor)
 *
 * COBS removes every 0x00 from the encoded bytes, so a receiver resynchronises at the next 0x00
 * after any garbage; the leading delimiter ends whatever garbage preceded a frame, so noise on the
 * line costs no valid frame (the decoder reports the empty frame between two delimiters as EMPTY). The decoder is a byte-at-a-time state machine over a caller-owned buffer: no
 * heap, bounded memory, every malformed frame reported and dropped. host/link/framing.py is the
 * Python twin; tests check both against each other on the same byte streams.
 */
#ifndef RTLNF_FRAME_H
#define RTLNF_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_BODY_MAX 254u                                   /* body bytes, CRC excluded */
#define FRAME_CRC_BYTES 2u
/* Encoded bytes between the delimiters, and on the wire (both delimiters included). */
#define FRAME_COBS_MAX(body) ((body) + FRAME_CRC_BYTES + ((body) + FRAME_CRC_BYTES) / 254u + 1u)
#define FRAME_WIRE_MAX(body) (FRAME_COBS_MAX(body) + 2u)

typedef enum {
    FRAME_PENDING = 0,     /* no complete frame yet */
    FRAME_OK,              /* a frame arrived: body and body_len are set */
    FRAME_EMPTY,           /* two delimiters in a row (idle line, resync): ignore */
    FRAME_BAD_COBS,        /* a code byte pointed past the frame's end */
    FRAME_BAD_CRC,
    FRAME_TOO_SHORT,       /* fewer bytes than a CRC */
    FRAME_TOO_LONG,        /* more than FRAME_BODY_MAX + CRC bytes before the delimiter */
} frame_status_t;

typedef struct {
    uint8_t raw[FRAME_COBS_MAX(FRAME_BODY_MAX)];
    size_t len;
    bool overflow;
} frame_decoder_t;

uint16_t frame_crc16(const uint8_t *data, size_t len);

/* Encodes body into out (cap bytes); returns the bytes written including both 0x00 delimiters,
 * or 0 if len > FRAME_BODY_MAX or cap < FRAME_WIRE_MAX(len). */
size_t frame_encode(const uint8_t *body, size_t len, uint8_t *out, size_t cap);

void frame_decoder_init(frame_decoder_t *d);

/* Feeds one received byte. On FRAME_OK the body (without CRC) is in body[0..*body_len); body must
 * hold FRAME_BODY_MAX + FRAME_CRC_BYTES bytes. Any other non-pending status is one dropped frame. */
frame_status_t frame_decoder_push(frame_decoder_t *d, uint8_t byte, uint8_t *body, size_t *body_len);

#endif /* RTLNF_FRAME_H */
