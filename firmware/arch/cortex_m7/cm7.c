/*
 * cm7.c - Cortex-M7 start-up shared by every board: reset handler (FPU on, .data copied, .bss
 * zeroed, then main), default fault handlers, caches, SysTick and NVIC helpers.
 * Each board's startup.c provides the vector table, which points here.
 */
#include "arch/cortex_m7/cm7.h"

/* Linker-script symbols (boards/<id>/linker.ld). */
extern uint32_t __data_load__, __data_start__, __data_end__;
extern uint32_t __bss_start__, __bss_end__;

int main(void);

static volatile uint32_t s_millis;
static uint32_t s_ticks_per_us = 1;

void Reset_Handler(void)
{
    /* CP10 and CP11 full access: the FPU must be on before any code that may touch it. */
    CM7_SCB_CPACR |= (0xFu << 20);
    cm7_dsb();
    cm7_isb();

    /* Word loops: the linker script aligns both sections to 4 bytes. */
    const uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }

    (void)main();
    for (;;) {
        cm7_wfi();
    }
}

/* A fault stops the core where a debugger can see it; the watchdog (when armed) resets it. */
void Default_Handler(void)
{
    cm7_disable_irq();
    for (;;) {
    }
}

void SysTick_Handler(void)
{
    s_millis++;
}

uint32_t cm7_millis(void)
{
    return s_millis;
}

uint32_t cm7_micros(void)
{
    uint32_t ms, left;
    do {   /* a tick between the two reads would pair a new count with an old millisecond */
        ms = s_millis;
        left = CM7_SYST_CVR;
    } while (ms != s_millis);
    uint32_t reload = CM7_SYST_RVR;
    return ms * 1000u + (reload - left) / s_ticks_per_us;
}

bool cm7_cycle_counter_start(void)
{
    CM7_DEMCR |= CM7_DEMCR_TRCENA;
    CM7_DWT_LAR = 0xC5ACCE55u;
    CM7_DWT_CYCCNT = 0;
    CM7_DWT_CTRL |= CM7_DWT_CTRL_CYCCNTENA;
    uint32_t before = CM7_DWT_CYCCNT;
    for (volatile int i = 0; i < 8; i++) {
    }
    return CM7_DWT_CYCCNT != before;
}

void cm7_systick_start(uint32_t cpu_hz)
{
    s_ticks_per_us = cpu_hz / 1000000u > 0 ? cpu_hz / 1000000u : 1u;
    CM7_SYST_CSR = 0;
    CM7_SYST_RVR = cpu_hz / 1000u - 1u;
    CM7_SYST_CVR = 0;
    CM7_SYST_CSR = CM7_SYST_CSR_ENABLE | CM7_SYST_CSR_TICKINT | CM7_SYST_CSR_CLKSOURCE;
}

void cm7_nvic_enable(uint32_t irq, uint8_t priority)
{
    CM7_NVIC_IPR8(irq) = priority;
    CM7_NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

void cm7_enable_caches(void)
{
    if (CM7_SCB_CCR & CM7_SCB_CCR_IC) {
        return; /* already on (e.g. after a debugger reset): invalidating the D-cache now would lose data */
    }
    cm7_dsb();
    cm7_isb();
    CM7_SCB_ICIALLU = 0;
    cm7_dsb();
    cm7_isb();
    CM7_SCB_CCR |= CM7_SCB_CCR_IC;
    cm7_dsb();
    cm7_isb();

    /* D-cache: invalidate every line by set/way (contents are random after reset), then enable. */
    CM7_SCB_CSSELR = 0; /* level 1 data cache */
    cm7_dsb();
    uint32_t ccsidr = CM7_SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    uint32_t line_shift = (ccsidr & 0x7u) + 4u;                   /* log2(line bytes) */
    uint32_t way_shift = (uint32_t)__builtin_clz(ways > 1 ? ways - 1u : 1u);
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            CM7_SCB_DCISW = (way << way_shift) | (set << line_shift);
        }
    }
    cm7_dsb();
    CM7_SCB_CCR |= CM7_SCB_CCR_DC;
    cm7_dsb();
    cm7_isb();
}
