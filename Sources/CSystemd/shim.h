// libsystemd (Debian's libsystemd-dev). Swift cannot call the variadic sd_journal_send:
// the audit sink uses sd_journal_sendv with an iovec array.
#include <systemd/sd-journal.h>
#include <systemd/sd-bus.h>
#include <sys/uio.h>
