#include "arch/cortex_m7/console_tx.h"

#include "arch/cortex_m7/cm7.h"
#include "core/board.h"
#include "core/ring.h"

static uint8_t s_storage[CONSOLE_TX_BYTES];
static ring_t s_tx;

void console_tx_init(void)
{
    ring_init(&s_tx, s_storage, CONSOLE_TX_BYTES);
}

bool console_tx_pop(uint8_t *byte)
{
    return ring_pop(&s_tx, byte, 1) == 1u;
}

void board_uart_write(const uint8_t *data, size_t len)
{
    size_t i = 0;
    uint32_t last_progress = board_millis();
    for (;;) {
        while (i < len && ring_count(&s_tx) < CONSOLE_TX_BYTES) {
            (void)ring_push(&s_tx, data[i++]);
        }
        cm7_disable_irq();
        board_uart_tx_start();
        if (i < len && ring_count(&s_tx) == CONSOLE_TX_BYTES) {
            cm7_wfi();        /* ring full: the TX interrupt that frees a slot (or the tick) ends the wait */
        }
        cm7_enable_irq();
        if (i == len) {
            return;
        }
        uint32_t now = board_millis();
        if (ring_count(&s_tx) < CONSOLE_TX_BYTES) {
            last_progress = now;                      /* the UART took bytes: a slow line is not a stall */
        } else if (now - last_progress > CONSOLE_TX_STALL_MS) {
            return;           /* the UART does not drain: drop the rest rather than hang */
        }
    }
}
