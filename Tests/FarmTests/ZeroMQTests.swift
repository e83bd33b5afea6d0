import FarmModel
import Foundation
import Testing
import ZeroMQ

@Suite struct ZeroMQTests {
    @Test func dealerAndRouterExchangeMessagesInOrderOverTCP() async throws {
        let context = try ZMQContext()
        var routerOptions = SocketOptions(kind: .router)
        routerOptions.bind = ["tcp://127.0.0.1:*"]
        let router = try ZMQSocket(context: context, options: routerOptions)
        defer { router.close() }
        var dealerOptions = SocketOptions(kind: .dealer)
        dealerOptions.connect = router.boundEndpoints
        dealerOptions.routingID = Data("agent-1".utf8)
        let dealer = try ZMQSocket(context: context, options: dealerOptions)
        defer { dealer.close() }

        let count = 2_000
        for index in 0..<count { dealer.send([Data("ping".utf8), Data(String(index).utf8)]) }
        var received = 0
        for await message in router.incoming {
            #expect(message.peer == Data("agent-1".utf8))
            #expect(message.frames == [Data("ping".utf8), Data(String(received).utf8)])
            router.send([Data("pong".utf8), message.frames[1]], to: message.peer)
            received += 1
            if received == count { break }
        }
        var replies = 0
        for await message in dealer.incoming {
            #expect(message.peer == nil)
            #expect(message.frames == [Data("pong".utf8), Data(String(replies).utf8)])
            replies += 1
            if replies == count { break }
        }
        #expect(replies == count)
    }

    @Test func aRouterWatchingItsConnectionsNamesTheOneThatClosed() async throws {
        let context = try ZMQContext()
        var routerOptions = SocketOptions(kind: .router)
        routerOptions.bind = ["tcp://127.0.0.1:*"]
        routerOptions.watchConnections = true
        let router = try ZMQSocket(context: context, options: routerOptions)
        defer { router.close() }
        var dealers: [ZMQSocket] = []
        for name in ["first", "second"] {
            var options = SocketOptions(kind: .dealer)
            options.connect = router.boundEndpoints
            options.routingID = Data(name.utf8)
            options.lingerMilliseconds = 0
            let dealer = try ZMQSocket(context: context, options: options)
            dealer.send([Data("hello".utf8)])
            dealers.append(dealer)
        }
        var connections: [Data: Int32] = [:]
        for await message in router.incoming {
            connections[message.peer!] = message.connection
            if connections.count == 2 { break }
        }
        let first = try #require(connections[Data("first".utf8)])
        #expect(connections[Data("second".utf8)] != nil && connections[Data("second".utf8)] != first)
        dealers[0].close()
        var closed: Int32?
        for await connection in router.closedConnections {
            closed = connection
            break
        }
        #expect(closed == first)
        dealers[1].close()
    }

    @Test func aMessageToAnUnknownPeerIsReportedNotSilentlyDropped() async throws {
        let context = try ZMQContext()
        var options = SocketOptions(kind: .router)
        options.bind = ["tcp://127.0.0.1:*"]
        let router = try ZMQSocket(context: context, options: options)
        defer { router.close() }
        router.send([Data("hello".utf8)], to: Data("nobody".utf8))
        var iterator = router.undeliverable.makeAsyncIterator()
        let lost = await iterator.next()
        #expect(lost?.peer == Data("nobody".utf8))
        #expect(lost?.frames == [Data("hello".utf8)])
    }

    @Test func bindingABadEndpointThrows() throws {
        let context = try ZMQContext()
        var options = SocketOptions(kind: .router)
        options.bind = ["nonsense://here"]
        #expect(throws: ZMQError.self) { try ZMQSocket(context: context, options: options) }
    }
}
