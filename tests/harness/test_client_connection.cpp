// harness/client_connection.h on loopback sockets: finding a connection's socket by its addresses, and telling a client that hung up from one that waits.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "harness/client_connection.h"

using packbench::cli::find_connection_socket;
using packbench::cli::peer_hung_up;

namespace {

// A loopback listener, one client connected to it, and the server's accepted end.
struct Connection {
  Connection() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t len = sizeof a;
    if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 4) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    server_port = ntohs(a.sin_port);
    client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    accepted = accept(listener, nullptr, nullptr);
    len = sizeof a;
    getsockname(client, reinterpret_cast<sockaddr*>(&a), &len);
    client_port = ntohs(a.sin_port);
  }
  ~Connection() {
    for (int fd : {accepted, client, listener})
      if (fd >= 0) close(fd);
  }
  // What the server's handler would look up: its own address, then the client's.
  int find() const { return find_connection_socket("127.0.0.1", server_port, "127.0.0.1", client_port); }
  // peer_hung_up, asked until it says yes or `ms` milliseconds pass (the FIN crosses loopback).
  bool hung_up_within(int ms) const {
    for (int i = 0; i < ms; ++i) {
      if (peer_hung_up(accepted)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  int listener = -1, client = -1, accepted = -1;
  int server_port = 0, client_port = 0;
};

TEST(ClientConnection, FindsTheAcceptedSocketByItsAddresses) {
  Connection c;
  ASSERT_GE(c.accepted, 0);
  EXPECT_EQ(c.find(), c.accepted);
  // Any own address matches when the local port is not given.
  EXPECT_EQ(find_connection_socket("", 0, "127.0.0.1", c.client_port), c.accepted);
  // The client's own socket has the addresses the other way round; the listener has no peer.
  EXPECT_EQ(find_connection_socket("127.0.0.1", c.client_port, "127.0.0.1", c.server_port), c.client);
  EXPECT_EQ(find_connection_socket("127.0.0.1", c.server_port, "127.0.0.1", c.client_port + 1), -1);
  EXPECT_EQ(find_connection_socket("127.0.0.2", c.server_port, "127.0.0.1", c.client_port), -1);
  EXPECT_EQ(find_connection_socket("127.0.0.1", c.server_port, "", c.client_port), -1);
}

TEST(ClientConnection, AWaitingClientHasNotHungUpEvenWithUnreadBytes) {
  Connection c;
  ASSERT_GE(c.accepted, 0);
  EXPECT_FALSE(c.hung_up_within(50));
  // A pipelined next request waits in the socket; it is neither consumed nor taken for a hang-up.
  ASSERT_EQ(send(c.client, "GET /", 5, MSG_NOSIGNAL), 5);
  EXPECT_FALSE(c.hung_up_within(50));
  char buf[8];
  EXPECT_EQ(recv(c.accepted, buf, sizeof buf, MSG_DONTWAIT), 5);
}

TEST(ClientConnection, AClosedClientHasHungUp) {
  Connection c;
  ASSERT_GE(c.accepted, 0);
  EXPECT_FALSE(peer_hung_up(c.accepted));
  close(c.client);
  c.client = -1;
  EXPECT_TRUE(c.hung_up_within(2000));
}

TEST(ClientConnection, AResetConnectionHasHungUp) {
  Connection c;
  ASSERT_GE(c.accepted, 0);
  // SO_LINGER with a zero timeout makes close() send a reset instead of a FIN.
  linger l{1, 0};
  ASSERT_EQ(setsockopt(c.client, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  close(c.client);
  c.client = -1;
  EXPECT_TRUE(c.hung_up_within(2000));
}

TEST(ClientConnection, AClientThatOnlyShutsDownWritingCountsAsGone) {
  // An HTTP client that half-closes after its request is treated as one that left (as nginx does).
  Connection c;
  ASSERT_GE(c.accepted, 0);
  ASSERT_EQ(shutdown(c.client, SHUT_WR), 0);
  EXPECT_TRUE(c.hung_up_within(2000));
}

}  // namespace
