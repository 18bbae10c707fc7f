import CamNIO
import CamProtocol
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// JSON answers of /api/: pretty, sorted keys, one trailing newline, as the
/// admin API has always written them (scripts diff them).
public enum APIResponse {
    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: encoded(value)))
    }

    static func encoded<T: Encodable>(_ value: T) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        data.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: data)
    }

    public static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(["error": message], status: status)
    }
}

/// An answer other than 2xx, with the message the client sees as {"error": …}.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var response: Response {
        var response = APIResponse.error(status, message)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Turns every error a route or middleware throws into a JSON error, so no
/// client ever gets Hummingbird's default error body or an empty 500.
public struct APIErrorMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    public init() {}

    public func handle(_ request: Request, context: APIRequestContext,
                       next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                return APIResponse.error(.notFound, "no such resource: \(request.method.rawValue) \(LogText.peer(request.uri.path)); see camagent-endpoint serve --help")
            case .contentTooLarge:
                return APIResponse.error(.contentTooLarge, "request body exceeds 64 KiB")
            default:
                return APIResponse.error(error.status, error.body ?? error.status.reasonPhrase)
            }
        } catch is DecodingError {
            return APIResponse.error(.badRequest, "body is not the JSON this route expects")
        } catch {
            APILog.logger.error("API \(request.method.rawValue) \(LogText.peer(request.uri.path)): \(error)")
            return APIResponse.error(.internalServerError, "internal error; see the endpoint's log")
        }
    }
}

