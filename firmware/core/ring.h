/*
 * ring.h - single-producer single-consumer byte ring buffer.
 *
 * The producer is an interrupt handler (UART RX), the consumer the main loop. Capacity is a power
 * of two; head and tail run freely and are masked on access, so full and empty are distinguishable
 * without a spare slot. A push into a full ring drops the byte and counts it: received data is
 * never overwritten silently. Storage is owned by the caller (no heap).
 */
#ifndef RTLNF_RING_H
#define RTLNF_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *storage;
    uint32_t mask;                /* capacity - 1 */
    volatile uint32_t head;       /* written by the producer only */
    volatile uint32_t tail;       /* written by the consumer only */
    volatile uint32_t overflows;  /* bytes dropped because the ring was full */
} ring_t;

/* capacity must be a power of two, >= 2. Returns false (and leaves ring unusable) otherwise. */
bool ring_init(ring_t *ring, uint8_t *storage, uint32_t capacity);

/* Producer side. Returns false and counts an overflow when the ring is full. */
bool ring_push(ring_t *ring, uint8_t byte);

/* Consumer side. Pops up to max bytes into out; returns how many were popped. */
size_t ring_pop(ring_t *ring, uint8_t *out, size_t max);

/* Bytes currently stored. */
uint32_t ring_count(const ring_t *ring);

#endif /* RTLNF_RING_H */
