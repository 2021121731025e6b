/*
 * Board layer for QEMU's mps2-an500 machine (Arm MPS2 AN500 FPGA image, Cortex-M7 at 25 MHz).
 * The CI emulator: the same portable core as the NUCLEO-H743ZI, a CMSDK APB UART0 as the console.
 * Register map: Arm CMSDK APB UART (DDI 0479) as modelled by QEMU 7.2 (hw/char/cmsdk-apb-uart.c).
 */
#include "core/board.h"
#include "arch/cortex_m7/cm7.h"
#include "arch/cortex_m7/console_rx.h"
#include "arch/cortex_m7/console_tx.h"
#include "board_irq.h"

#define UART0_BASE        0x40004000u
#define UART0_DATA        CM7_REG(UART0_BASE + 0x00u)
#define UART0_STATE       CM7_REG(UART0_BASE + 0x04u)
#define UART0_CTRL        CM7_REG(UART0_BASE + 0x08u)
#define UART0_INTSTATUS   CM7_REG(UART0_BASE + 0x0Cu)  /* write 1 to clear (INTCLEAR) */
#define UART0_BAUDDIV     CM7_REG(UART0_BASE + 0x10u)

#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_STATE_RXOVR  (1u << 3)
#define UART_CTRL_TXEN    (1u << 0)
#define UART_CTRL_RXEN    (1u << 1)
#define UART_CTRL_TXINTEN (1u << 2)
#define UART_CTRL_RXINTEN (1u << 3)
#define UART_INT_TX       (1u << 0)
#define UART_INT_RX       (1u << 1)

#define UART0_RX_IRQ      0u
#define UART0_TX_IRQ      1u

/* CMSDK APB watchdog (DDI 0479): counts WDOGCLK (the 25 MHz system clock in QEMU) down from LOAD;
 * the first expiry raises its interrupt (NMI), the second, still unacknowledged, resets. */
#define WDOG_BASE         0x40008000u
#define WDOG_LOAD         CM7_REG(WDOG_BASE + 0x000u)
#define WDOG_CONTROL      CM7_REG(WDOG_BASE + 0x008u)
#define WDOG_INTCLR       CM7_REG(WDOG_BASE + 0x00Cu)
#define WDOG_LOCK         CM7_REG(WDOG_BASE + 0xC00u)
#define WDOG_UNLOCK_KEY   0x1ACCE551u
#define WDOG_CONTROL_INTEN (1u << 0)
#define WDOG_CONTROL_RESEN (1u << 1)
#define CONSOLE_BAUD      115200u   /* QEMU does not pace the line; the divisor only has to be valid */


void board_init(void)
{
    console_rx_init();
    console_tx_init();
    UART0_BAUDDIV = F_CPU / CONSOLE_BAUD;
    UART0_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN | UART_CTRL_TXINTEN;
    cm7_nvic_enable(UART0_RX_IRQ, 0x40);
    cm7_nvic_enable(UART0_TX_IRQ, 0x40);
    cm7_systick_start(F_CPU);
    cm7_enable_irq();
}

void UART0_RX_IRQHandler(void)
{
    /* Clear first, then drain: a byte arriving after the drain raises the interrupt again. */
    UART0_INTSTATUS = UART_INT_RX;
    if (UART0_STATE & UART_STATE_RXOVR) {
        UART0_STATE = UART_STATE_RXOVR; /* write 1 to clear */
        console_rx_hw_overrun();
    }
    while (UART0_STATE & UART_STATE_RXFULL) {
        console_rx_push((uint8_t)UART0_DATA);
    }
}

/* The CMSDK UART interrupts when its one-byte TX buffer empties (TXFULL 1 -> 0), not while it is
 * empty: a transfer is started by writing its first byte, and s_tx_busy says one is under way. */
static volatile bool s_tx_busy;

static void send_next(void)
{
    uint8_t byte;
    s_tx_busy = console_tx_pop(&byte);
    if (s_tx_busy) {
        UART0_DATA = byte;
    }
}

void UART0_TX_IRQHandler(void)
{
    UART0_INTSTATUS = UART_INT_TX;
    send_next();
}

void board_uart_tx_start(void)
{
    if (!s_tx_busy && !(UART0_STATE & UART_STATE_TXFULL)) {
        send_next();
    }
}

uint32_t board_cpu_hz(void)
{
    return F_CPU;
}

const char *board_clock_source(void)
{
    return "QEMU 25 MHz";
}

void board_watchdog_start(uint32_t timeout_ms)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;        /* left unlocked: every kick writes INTCLR */
    WDOG_LOAD = (F_CPU / 1000u) * (timeout_ms / 2u);   /* two expiries to a reset */
    WDOG_CONTROL = WDOG_CONTROL_INTEN | WDOG_CONTROL_RESEN;
}

void board_watchdog_kick(void)
{
    WDOG_INTCLR = 1u;                   /* acknowledges and reloads */
}

bool board_reset_was_watchdog(void)
{
    return false;   /* the MPS2 has no reset-cause register */
}
