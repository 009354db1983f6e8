#ifndef CSYSTEMD_H
#define CSYSTEMD_H

// libsystemd, loaded with dlopen on first use rather than linked: most freezectl runs never touch
// the journal or the bus, and linking it makes every start load and relocate libsystemd and the
// six libraries it pulls in (libgcrypt, liblzma, libzstd, liblz4, libcap, libgpg-error), about
// half a millisecond of a CLI run (docs/performance.md). systemd's own tools load their optional
// libraries the same way.
//
// The headers (Debian's libsystemd-dev) give the types and signatures. Each csd_ function calls
// its sd_ namesake; while libsystemd.so.0 cannot be loaded, those returning int return -ELIBACC
// and those returning a pointer return NULL. Swift cannot call the variadic sd_journal_send, so
// the journal sink uses sd_journal_sendv with an iovec array.

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>

// Whether libsystemd.so.0 could be loaded; if not, `reason` (when non-NULL) gets dlerror's text.
int csd_available(const char **reason);

int csd_journal_sendv(const struct iovec *iov, int n);

int csd_bus_open_system(sd_bus **bus);
sd_bus *csd_bus_flush_close_unref(sd_bus *bus);
int csd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **message, const char *destination,
                                    const char *path, const char *interface, const char *member);
int csd_bus_message_append_basic(sd_bus_message *message, char type, const void *value);
int csd_bus_call(sd_bus *bus, sd_bus_message *message, uint64_t usec, sd_bus_error *error, sd_bus_message **reply);
int csd_bus_message_enter_container(sd_bus_message *message, char type, const char *contents);
int csd_bus_message_read_basic(sd_bus_message *message, char type, void *value);
sd_bus_message *csd_bus_message_unref(sd_bus_message *message);
void csd_bus_error_free(sd_bus_error *error);

#endif
