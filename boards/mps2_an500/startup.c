/* Vector table of the mps2-an500 image: Cortex-M7 core exceptions, then the device IRQs QEMU wires
 * (UART0 RX on IRQ 0, TX on IRQ 1). Unused entries go to Default_Handler. */
#include <stdint.h>

#include "arch/cortex_m7/cm7.h"
#include "board_irq.h"

extern uint32_t __stack_top__;

#define MPS2_IRQ_COUNT 32

__attribute__((section(".isr_vector"), used))
const cm7_vector_t g_vector_table[16 + MPS2_IRQ_COUNT] = {
    CM7_CORE_VECTORS(&__stack_top__),
    [16 + 0] = UART0_RX_IRQHandler,
    [16 + 1] = UART0_TX_IRQHandler,
    [16 + 2 ... 16 + MPS2_IRQ_COUNT - 1] = Default_Handler,
};
