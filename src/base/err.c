#include "base/err.h"

#include <string.h>

static const struct {
    const char *name, *type;
    int status;
} table[] = {{"OK", "", 200},
#define KN__ERR_ROW(name, type, status) {#name, type, status},
             KN_ERRNO_MAP(KN__ERR_ROW)
#undef KN__ERR_ROW
};

static int index_of(int code)
{
    int i = -code;
    return i > 0 && i < KN__E_COUNT ? i : -KN_EINTERNAL;
}

const char *kn_err_type(int code)
{
    return table[index_of(code)].type;
}

int kn_err_status(int code)
{
    return table[index_of(code)].status;
}

const char *kn_err_name(int code)
{
    return table[index_of(code)].name;
}

int kn_err_from_type(const char *type)
{
    for (int i = 1; i < KN__E_COUNT; i++)
        if (strcmp(table[i].type, type) == 0) return -i;
    return KN_EINTERNAL;
}
