/*
 * cm7.h - the few Cortex-M7 core registers the boards use (ARMv7-M Architecture Reference Manual,
 * Cortex-M7 TRM). Written out here instead of pulling in CMSIS-Core: startup, caches, SysTick and
 * NVIC need a dozen registers.
 */
#ifndef RTLNF_CM7_H
#define RTLNF_CM7_H

#include <stdbool.h>
#include <stdint.h>

#define CM7_REG(addr) (*(volatile uint32_t *)(addr))

/* System control block */
#define CM7_SCB_CCR      CM7_REG(0xE000ED14u)  /* configuration and control */
#define CM7_SCB_CCR_DC   (1u << 16)             /* data cache enable */
#define CM7_SCB_CCR_IC   (1u << 17)             /* instruction cache enable */
#define CM7_SCB_CPACR    CM7_REG(0xE000ED88u)  /* coprocessor access control */
#define CM7_SCB_CCSIDR   CM7_REG(0xE000ED80u)  /* cache size id (of the cache CSSELR selects) */
#define CM7_SCB_CSSELR   CM7_REG(0xE000ED84u)  /* cache size selection */
#define CM7_SCB_ICIALLU  CM7_REG(0xE000EF50u)  /* invalidate all I-cache to PoU */
#define CM7_SCB_DCISW    CM7_REG(0xE000EF60u)  /* invalidate D-cache line by set/way */

/* SysTick */
#define CM7_SYST_CSR     CM7_REG(0xE000E010u)
#define CM7_SYST_RVR     CM7_REG(0xE000E014u)
#define CM7_SYST_CVR     CM7_REG(0xE000E018u)
#define CM7_SYST_CSR_ENABLE    (1u << 0)
#define CM7_SYST_CSR_TICKINT   (1u << 1)
#define CM7_SYST_CSR_CLKSOURCE (1u << 2)        /* 1: processor clock */

/* Debug: trace enable and the DWT cycle counter */
#define CM7_DEMCR        CM7_REG(0xE000EDFCu)
#define CM7_DEMCR_TRCENA (1u << 24)
#define CM7_DWT_CTRL     CM7_REG(0xE0001000u)
#define CM7_DWT_CYCCNT   CM7_REG(0xE0001004u)
#define CM7_DWT_LAR      CM7_REG(0xE0001FB0u)  /* the M7 locks DWT writes until 0xC5ACCE55 is written */
#define CM7_DWT_CTRL_CYCCNTENA (1u << 0)

/* NVIC */
#define CM7_NVIC_ISER(n) CM7_REG(0xE000E100u + 4u * (n))
#define CM7_NVIC_IPR8(irq) (*(volatile uint8_t *)(0xE000E400u + (irq)))

/* Exception handlers shared by every board (cm7.c); each board's startup.c puts them in its
 * vector table beside its own device IRQ handlers. */
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);

typedef void (*cm7_vector_t)(void);

/* The 16 core entries of a vector table (initial stack pointer, reset, faults, SysTick), for the
 * designated initializer of each board's table; device IRQs follow from index 16. */
#define CM7_CORE_VECTORS(stack_top)                  \
    [0] = (cm7_vector_t)(uintptr_t)(stack_top),      \
    [1] = Reset_Handler,                             \
    [2] = Default_Handler,  /* NMI */                \
    [3] = Default_Handler,  /* HardFault */          \
    [4] = Default_Handler,  /* MemManage */          \
    [5] = Default_Handler,  /* BusFault */           \
    [6] = Default_Handler,  /* UsageFault */         \
    [11] = Default_Handler, /* SVCall */             \
    [12] = Default_Handler, /* DebugMonitor */       \
    [14] = Default_Handler, /* PendSV */             \
    [15] = SysTick_Handler

static inline void cm7_disable_irq(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void cm7_enable_irq(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline void cm7_wfi(void) { __asm__ volatile("wfi"); }
static inline void cm7_dsb(void) { __asm__ volatile("dsb 0xF" ::: "memory"); }
static inline void cm7_isb(void) { __asm__ volatile("isb 0xF" ::: "memory"); }

/* Enables a device interrupt at the given priority (0 = highest; the M7 implements the top bits). */
void cm7_nvic_enable(uint32_t irq, uint8_t priority);

/* Invalidates, then enables the L1 instruction and data caches. */
void cm7_enable_caches(void);

/* Starts a 1 kHz SysTick interrupt from the processor clock. */
void cm7_systick_start(uint32_t cpu_hz);

/* Milliseconds counted by the SysTick handler. */
uint32_t cm7_millis(void);

/* Microseconds: the millisecond count plus the SysTick down-counter's progress. */
uint32_t cm7_micros(void);

/* Starts the DWT cycle counter; false if it does not count (not implemented, e.g. in QEMU). */
bool cm7_cycle_counter_start(void);

#endif /* RTLNF_CM7_H */
