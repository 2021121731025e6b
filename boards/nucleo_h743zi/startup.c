/* Vector table of the STM32H743 (RM0433, table "NVIC"): core exceptions, then 150 device IRQs.
 * Only USART3 (IRQ 39, the ST-LINK virtual COM port) is used; the rest go to Default_Handler. */
#include <stdint.h>

#include "arch/cortex_m7/cm7.h"
#include "board_irq.h"

extern uint32_t __stack_top__;

#define STM32H743_IRQ_COUNT 150
#define USART3_IRQ          39

__attribute__((section(".isr_vector"), used))
const cm7_vector_t g_vector_table[16 + STM32H743_IRQ_COUNT] = {
    CM7_CORE_VECTORS(&__stack_top__),
    [16 ... 16 + USART3_IRQ - 1] = Default_Handler,
    [16 + USART3_IRQ] = USART3_IRQHandler,
    [16 + USART3_IRQ + 1 ... 16 + STM32H743_IRQ_COUNT - 1] = Default_Handler,
};
