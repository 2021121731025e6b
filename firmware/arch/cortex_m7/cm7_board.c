/*
 * cm7_board.c - the parts of board.h every Cortex-M7 board implements the same way: time from
 * SysTick, the DWT cycle counter, and sleeping until the next interrupt.
 * Each board adds its own clocks, UART, watchdog and reset cause.
 */
#include "arch/cortex_m7/cm7.h"
#include "arch/cortex_m7/console_rx.h"
#include "core/board.h"

uint32_t board_millis(void)
{
    return cm7_millis();
}

uint32_t board_micros(void)
{
    return cm7_micros();
}

bool board_cycle_counter_start(void)
{
    return cm7_cycle_counter_start();
}

uint32_t board_cycles(void)
{
    return CM7_DWT_CYCCNT;
}

void board_idle(void)
{
    cm7_disable_irq();
    if (console_rx_pending() == 0) {
        cm7_wfi(); /* a pending interrupt ends WFI even while masked */
    }
    cm7_enable_irq();
}
