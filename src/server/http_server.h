// The listening socket: accepts connections and hands each to an HttpSession
// on its own strand.
#pragma once

#include "server_context.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace orcd::server {

class HttpServer {
public:
    HttpServer(boost::asio::io_context& ioc, ServerContext& ctx);
    // Binds and listens; throws boost::system::system_error when it cannot.
    void listen(const std::string& address, uint16_t port);
    void start_accepting();
    // Closes the listening socket (from any thread).
    void stop_accepting();

private:
    void accept();

    boost::asio::io_context& ioc_;
    ServerContext& ctx_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace orcd::server
