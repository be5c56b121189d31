/* The one helper of the adapter interface (see adapter.h). */
#include "adapter.h"

#include <stdio.h>

void client_err_set(struct client_err *err, unsigned status, const char *code, const char *message)
{
    err->status = status;
    err->code = code;
    err->param[0] = '\0';
    (void)snprintf(err->message, sizeof(err->message), "%s", message);
}
