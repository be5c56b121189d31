/*
 * The operators' console: static files compiled into the edge, served under /console/ (and "/"
 * redirects there) with a strict Content-Security-Policy, ETags and gzip. Everything it shows
 * comes from /api/, under the same session rules as any other admin client.
 */
#ifndef SB_EDGE_CONSOLE_H
#define SB_EDGE_CONSOLE_H

#include <microhttpd.h>
#include <stdbool.h>

/** True when url is the console's ("/", "/console", "/console/..."). */
bool console_path(const char *url);
/** Answer a console request (GET or HEAD; anything else is 405). */
enum MHD_Result console_respond(struct MHD_Connection *conn, const char *url, const char *method,
                                const char *req_id);

#endif
