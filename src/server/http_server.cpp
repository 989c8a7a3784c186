#include "http_server.h"

#include "http_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <memory>

namespace orcd::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

HttpServer::HttpServer(net::io_context& ioc, ServerContext& ctx)
    : ioc_(ioc), ctx_(ctx), acceptor_(net::make_strand(ioc)) {}

void HttpServer::listen(const std::string& address, uint16_t port) {
    const tcp::endpoint endpoint(net::ip::make_address(address), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
}

void HttpServer::start_accepting() {
    net::post(acceptor_.get_executor(), [this] { accept(); });
}

void HttpServer::stop_accepting() {
    net::post(acceptor_.get_executor(), [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
    });
}

void HttpServer::accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
        if (!acceptor_.is_open()) return;
        if (!ec) {
            boost::system::error_code opt_ec;
            socket.set_option(tcp::no_delay(true), opt_ec);  // each SSE event should leave at once
            std::make_shared<HttpSession>(std::move(socket), ctx_)->start();
            accept();
            return;
        }
        // Out of descriptors, typically: back off instead of spinning on the error.
        ctx_.log.warn("accept_failed", {{"message", ec.message()}});
        auto timer = std::make_shared<net::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(50));
        timer->async_wait([this, timer](boost::system::error_code) { accept(); });
    });
}

}  // namespace orcd::server
