#include "core/ring.h"

/* Keeps the compiler from moving the data access across the index update; on a single-core
 * Cortex-M the hardware needs no barrier for this (normal memory, same observer). */
#define RING_COMPILER_BARRIER() __asm__ volatile("" ::: "memory")

bool ring_init(ring_t *ring, uint8_t *storage, uint32_t capacity)
{
    ring->storage = storage;
    ring->head = 0;
    ring->tail = 0;
    ring->overflows = 0;
    if (capacity < 2 || (capacity & (capacity - 1)) != 0) {
        ring->mask = 0;
        ring->storage = NULL;
        return false;
    }
    ring->mask = capacity - 1;
    return true;
}

uint32_t ring_count(const ring_t *ring)
{
    return ring->head - ring->tail;
}

bool ring_push(ring_t *ring, uint8_t byte)
{
    uint32_t head = ring->head;
    if (ring->storage == NULL || head - ring->tail > ring->mask) {
        ring->overflows++;
        return false;
    }
    ring->storage[head & ring->mask] = byte;
    RING_COMPILER_BARRIER();
    ring->head = head + 1;
    return true;
}

size_t ring_pop(ring_t *ring, uint8_t *out, size_t max)
{
    uint32_t tail = ring->tail;
    uint32_t available = ring->head - tail;
    size_t n = available < max ? available : max;
    RING_COMPILER_BARRIER();
    for (size_t i = 0; i < n; i++) {
        out[i] = ring->storage[(tail + (uint32_t)i) & ring->mask];
    }
    RING_COMPILER_BARRIER();
    ring->tail = tail + (uint32_t)n;
    return n;
}
