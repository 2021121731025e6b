#include "core/app.h"

typedef struct {
    char *out;
    size_t cap;
    size_t len;
} text_t;

static void text_put(text_t *t, const char *s)
{
    while (*s != '\0' && t->len + 1 < t->cap) {
        t->out[t->len++] = *s++;
    }
    if (t->cap > 0) {
        t->out[t->len] = '\0';
    }
}

static void text_put_u32(text_t *t, uint32_t value)
{
    char digits[11];
    size_t i = sizeof digits - 1;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0);
    text_put(t, &digits[i]);
}

size_t app_format_greeting(char *out, size_t cap, const app_identity_t *id)
{
    text_t t = {out, cap, 0};
    text_put(&t, "RT-LNF firmware ");
    text_put(&t, id->fw_version);
    text_put(&t, " board=");
    text_put(&t, id->board);
    text_put(&t, " build=");
    text_put(&t, id->build_id);
    text_put(&t, " cpu_mhz=");
    text_put_u32(&t, id->cpu_hz / 1000000u);
    text_put(&t, " clock=");
    text_put(&t, id->clock_source);
    text_put(&t, "\r\n");
    return t.len;
}
