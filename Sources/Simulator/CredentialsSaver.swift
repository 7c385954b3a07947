import Logging

/// Keeps the credentials file in step with the refresh tokens a run holds. Every use rotates a
/// refresh token, and the one before it works for only 60 s more (API.md); a file written only
/// at the end of a run that was killed holds tokens provisioning then counts as reused, so the
/// next run gets `refresh_token_reused` and every refresh token of those devices is revoked.
/// The run saves right after its first refresh, after rotations as they happen, and at the end.
struct CredentialsSaver: Sendable {
    let path: String
    let logger: Logger
    /// How often the run checks for rotated tokens: well inside the 60 s grace, so a run killed
    /// at any moment leaves at most this much of its rotations off disk.
    var interval: Duration = .seconds(1)

    /// Writes the keeper's credentials; returns the rotations written, nil when the write failed.
    @discardableResult
    func save(_ tokens: TokenKeeper) -> Int? {
        let (rotations, credentials) = tokens.rotatedCredentials
        return save(credentials) ? rotations : nil
    }

    /// Writes the keeper's credentials every `interval` in which a token rotated, until cancelled.
    /// `saved`: the rotations already on disk.
    func keepSaved(_ tokens: TokenKeeper, saved: Int?) async {
        var saved = saved
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let (rotations, credentials) = tokens.rotatedCredentials
            guard rotations != saved else { continue }
            // A failed write is tried again next time, logged only when it starts failing.
            if save(credentials, logFailure: saved != nil) { saved = rotations } else { saved = nil }
        }
    }

    /// Writes `used` over their lines of the file, keeping the devices this run did not use,
    /// atomically and with mode 0600 (`CredentialsFile.write`).
    private func save(_ used: [DeviceCredential], logFailure: Bool = true) -> Bool {
        do {
            var all = (try? CredentialsFile.read(from: path)) ?? []
            let updated = Dictionary(used.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
            for index in all.indices { if let credential = updated[all[index].id] { all[index] = credential } }
            let known = Set(all.map(\.id))
            all.append(contentsOf: used.filter { !known.contains($0.id) })
            try CredentialsFile.write(all, to: path)
            return true
        } catch {
            if logFailure {
                logger.error(
                    "could not write rotated refresh tokens back", metadata: ["file": "\(path)", "error": "\(error)"])
            }
            return false
        }
    }
}
