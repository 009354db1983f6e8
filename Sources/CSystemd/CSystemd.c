#define _GNU_SOURCE
#include "CSystemd.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

static struct {
    void *handle;
    const char *error;
    int (*journal_sendv)(const struct iovec *, int);
    int (*bus_open_system)(sd_bus **);
    sd_bus *(*bus_flush_close_unref)(sd_bus *);
    int (*bus_message_new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *, const char *);
    int (*bus_message_append_basic)(sd_bus_message *, char, const void *);
    int (*bus_call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
    int (*bus_message_enter_container)(sd_bus_message *, char, const char *);
    int (*bus_message_read_basic)(sd_bus_message *, char, void *);
    sd_bus_message *(*bus_message_unref)(sd_bus_message *);
    void (*bus_error_free)(sd_bus_error *);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    // dlerror's text lives in a buffer the next dl call may reuse: keep a copy.
    void *handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        api.error = strdup(dlerror());
        return;
    }
#define BIND(field, symbol)                                   \
    *(void **)(&api.field) = dlsym(handle, #symbol);          \
    if (!api.field) { api.error = strdup(dlerror()); dlclose(handle); return; }
    BIND(journal_sendv, sd_journal_sendv)
    BIND(bus_open_system, sd_bus_open_system)
    BIND(bus_flush_close_unref, sd_bus_flush_close_unref)
    BIND(bus_message_new_method_call, sd_bus_message_new_method_call)
    BIND(bus_message_append_basic, sd_bus_message_append_basic)
    BIND(bus_call, sd_bus_call)
    BIND(bus_message_enter_container, sd_bus_message_enter_container)
    BIND(bus_message_read_basic, sd_bus_message_read_basic)
    BIND(bus_message_unref, sd_bus_message_unref)
    BIND(bus_error_free, sd_bus_error_free)
#undef BIND
    api.handle = handle;
}

int csd_available(const char **reason) {
    pthread_once(&once, load);
    if (!api.handle && reason) *reason = api.error ? api.error : "libsystemd.so.0 could not be loaded";
    return api.handle != NULL;
}

#define LOADED(fallback) do { if (!csd_available(NULL)) return fallback; } while (0)

int csd_journal_sendv(const struct iovec *iov, int n) { LOADED(-ELIBACC); return api.journal_sendv(iov, n); }
int csd_bus_open_system(sd_bus **bus) { LOADED(-ELIBACC); return api.bus_open_system(bus); }
sd_bus *csd_bus_flush_close_unref(sd_bus *bus) { LOADED(NULL); return api.bus_flush_close_unref(bus); }
int csd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **message, const char *destination,
                                    const char *path, const char *interface, const char *member) {
    LOADED(-ELIBACC);
    return api.bus_message_new_method_call(bus, message, destination, path, interface, member);
}
int csd_bus_message_append_basic(sd_bus_message *message, char type, const void *value) {
    LOADED(-ELIBACC);
    return api.bus_message_append_basic(message, type, value);
}
int csd_bus_call(sd_bus *bus, sd_bus_message *message, uint64_t usec, sd_bus_error *error, sd_bus_message **reply) {
    LOADED(-ELIBACC);
    return api.bus_call(bus, message, usec, error, reply);
}
int csd_bus_message_enter_container(sd_bus_message *message, char type, const char *contents) {
    LOADED(-ELIBACC);
    return api.bus_message_enter_container(message, type, contents);
}
int csd_bus_message_read_basic(sd_bus_message *message, char type, void *value) {
    LOADED(-ELIBACC);
    return api.bus_message_read_basic(message, type, value);
}
sd_bus_message *csd_bus_message_unref(sd_bus_message *message) { LOADED(NULL); return api.bus_message_unref(message); }
void csd_bus_error_free(sd_bus_error *error) { if (csd_available(NULL)) api.bus_error_free(error); }
