#include "arch/cortex_m7/console_rx.h"

#include "core/board.h"
#include "core/ring.h"

static uint8_t s_storage[CONSOLE_RX_BYTES];
static ring_t s_rx;
static volatile uint32_t s_hw_overruns;

void console_rx_init(void)
{
    ring_init(&s_rx, s_storage, CONSOLE_RX_BYTES);
    s_hw_overruns = 0;
}

void console_rx_push(uint8_t byte)
{
    (void)ring_push(&s_rx, byte);
}

void console_rx_hw_overrun(void)
{
    s_hw_overruns++;
}

size_t board_uart_read(uint8_t *out, size_t max)
{
    return ring_pop(&s_rx, out, max);
}

uint32_t board_uart_rx_overflows(void)
{
    return s_rx.overflows + s_hw_overruns;
}

size_t console_rx_pending(void)
{
    return ring_count(&s_rx);
}
