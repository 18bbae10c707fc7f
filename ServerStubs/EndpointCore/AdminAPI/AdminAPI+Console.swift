import CamNIO
import CamProtocol
import Foundation
import Hummingbird
import NIOCore

/// The answer to `POST /api/units`.
struct UnitImportView: Encodable {
    var imported: Int
    var units: [String]
}

/// The console's additions to the API: the units CSV upload (what
/// `import-units` does) and the audit trail.
extension AdminAPI {
    /// A provisioning CSV of many thousand units fits; bigger uploads go through `import-units`.
    static let maxCSVBytes = 8 * 1024 * 1024

    func importUnits(_ request: Request) async throws -> Response {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("text/csv") || type.hasPrefix("text/plain") else {
            throw APIError(.unsupportedMediaType, "send the provisioning CSV as text/csv (header agent_id,serial,activation_secret[,model][,mac])")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxCSVBytes)
        } catch {
            throw APIError(.contentTooLarge, "a CSV upload may have at most \(Self.maxCSVBytes / 1024 / 1024) MiB; use camagent-endpoint import-units for more")
        }
        guard let text = String(bytes: buffer.readableBytesView, encoding: .utf8) else {
            throw APIError(.badRequest, "the CSV is not UTF-8 text")
        }
        let rows: [UnitImport]
        do {
            rows = try UnitCSV.parse(text, path: "the uploaded CSV")
        } catch {
            throw APIError(.badRequest, "\(error)")
        }
        let state = self.state
        do {
            _ = try await state.registryWorker.run(on: state.eventLoop) { store in try store.addUnits(rows) }.get()
        } catch let error as RegistryUnavailable {
            throw APIError(.serviceUnavailable, "units not imported: \(error)")
        } catch {
            throw APIError(.badRequest, "units not imported: \(error)")
        }
        // The views show the import at once, not after the next poll.
        _ = try? await state.eventLoop.flatSubmit { state.refreshRegistry() }.get()
        return APIResponse.json(UnitImportView(imported: rows.count, units: rows.map(\.serial)))
    }
}
