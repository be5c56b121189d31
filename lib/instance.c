/* Instance ids: "<service>-<host>-<pid>" unless configured. */
#include "lib/instance.h"

#include <stdio.h>
#include <unistd.h>

const char *instance_id(const char *service, const char *configured, char *buf, size_t n)
{
    char host[64] = "";

    if (configured && configured[0])
        return configured;
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        (void)snprintf(host, sizeof(host), "host");
    for (char *p = host; *p; p++)
        if (*p == '.' || *p == '*' || *p == '>' || *p == ' ' || *p == '\t')
            *p = '-';
    (void)snprintf(buf, n, "%s-%s-%d", service, host, (int)getpid());
    return buf;
}
