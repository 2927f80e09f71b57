// The socket behind a served HTTP request, found from the addresses cpp-httplib reports, and whether its client hung up.
#pragma once

#include <string>

namespace packbench::cli {

// The descriptor of this process's connected TCP socket whose own address is local_addr:local_port
// and whose peer is remote_addr:remote_port (numeric hosts, as cpp-httplib's Request holds them;
// local_port <= 0 matches any own address). -1 when there is none, or /proc/self/fd cannot be read.
// The descriptor stays this connection's only while the connection is open: for a server handler,
// until the handler returns.
int find_connection_socket(const std::string& local_addr, int local_port, const std::string& remote_addr,
                           int remote_port);

// True once the peer of connected socket `fd` has closed its side (FIN: the next read would see
// end of file) or reset the connection. Bytes the peer sent and nobody read yet (a pipelined
// request) are left unread and do not count as hanging up. Does not block.
bool peer_hung_up(int fd);

}  // namespace packbench::cli
