/* Vector table of the mps2-an500 image: Cortex-M7 core exceptions, then the device IRQs QEMU wires
 * (UART0 RX on IRQ 0, TX on IRQ 1). Unused entries go to Default_Handler. */
#include <stdint.h>

#include "arch/cortex_m7/cm7.h"
#include "board_irq.h"

extern uint32_t __stack_top__;

#define MPS2_IRQ_COUNT 32

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used))
const vector_t g_vector_table[16 + MPS2_IRQ_COUNT] = {
    [0] = (vector_t)(uintptr_t)&__stack_top__,
    [1] = Reset_Handler,
    [2] = Default_Handler,  /* NMI */
    [3] = Default_Handler,  /* HardFault */
    [4] = Default_Handler,  /* MemManage */
    [5] = Default_Handler,  /* BusFault */
    [6] = Default_Handler,  /* UsageFault */
    [11] = Default_Handler, /* SVCall */
    [12] = Default_Handler, /* DebugMonitor */
    [14] = Default_Handler, /* PendSV */
    [15] = SysTick_Handler,
    [16 + 0] = UART0_RX_IRQHandler,
    [16 + 1 ... 16 + MPS2_IRQ_COUNT - 1] = Default_Handler,
};
