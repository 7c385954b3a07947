import CompressNIO
import FleetNIO
import Foundation
import NIOCore
import Synchronization

/// Requests outstanding right now; the generator skips a due request when it reaches the bound.
final class InFlightCounter: Sendable {
    private let value = Atomic<Int>(0)

    var current: Int { value.load(ordering: .relaxed) }
    func increment() { value.add(1, ordering: .relaxed) }
    func decrement() { value.subtract(1, ordering: .relaxed) }
}

/// One batch on its way: everything a request task needs, built by the generator.
struct PendingPost: Sendable {
    var index: Int
    var deviceIndex: Int
    var deviceID: String
    var idempotencyKey: String
    var body: ByteBuffer
    var baseTimeMillis: Int64
    var recordCount: Int
    var scheduledAt: ContinuousClock.Instant
    /// Sent corrupt on purpose: must be answered `bad_payload`, never acknowledged or ledgered.
    var corrupt: Bool
    /// The device's clock is skewed: a `bad_timestamp` answer is an expected outcome.
    var skewed: Bool
    /// The device is among those a chaos run revokes.
    var revocationCandidate: Bool
}

/// Per-device state the generator alone touches.
struct DeviceRuntime {
    var id: String
    var sensors: SensorState
    /// Time of the device's last record, so every record gets its own (name, time).
    var lastTimeMillis: Int64 = 0
    var skewMillis: Int64
    var revocationCandidate: Bool
}

extension Simulation {
    /// The open-loop generator: sleeps until the next request is due, then dispatches every
    /// request whose time has come, each as its own task. It never waits for an answer.
    func generate(
        credentials: [DeviceCredential],
        schedule: OpenLoopSchedule,
        start: ContinuousClock.Instant,
        drainDeadline: ContinuousClock.Instant,
        tokens: TokenKeeper,
        revocations: Revocations,
        inFlight: InFlightCounter
    ) async {
        let clock = ContinuousClock()
        let total = schedule.requestCount(before: options.duration)
        let maxInFlight = options.effectiveMaxInFlight
        let recordCount = options.recordsPerBatch
        let writer = SenMLBatchWriter()
        let span = writer.timeSpan(recordCount: recordCount)
        var random = SplitMix64(seed: seed)
        let skewMillis = Int64((options.clockSkew.seconds * 1000).rounded())
        var devices = credentials.indices.map { index in
            DeviceRuntime(
                id: credentials[index].id,
                sensors: SensorState(using: &random),
                skewMillis: EvenSelection.isSelected(
                    index, fraction: options.clockSkewFraction, phase: EvenSelection.skewPhase) ? skewMillis : 0,
                revocationCandidate: Simulation.isRevocationCandidate(index, fraction: options.revokeFraction)
            )
        }
        // Unique per run, so keys never meet those of an earlier run within the server's 24 h.
        let runID = String(random.next() & 0xFFFF_FFFF_FFFF, radix: 36)
        let compressor: ZlibCompressor?
        let smallDeflater: SmallBodyDeflater?
        let zlib = Self.zlibConfiguration(recordsPerBatch: recordCount)
        switch options.encoding {
        case .identity:
            compressor = nil
            smallDeflater = nil
        case .deflate:
            compressor = try? ZlibCompressor(algorithm: .zlib, configuration: zlib)
            smallDeflater = SmallBodyDeflater(wrapper: .zlib)
        case .gzip:
            compressor = try? ZlibCompressor(algorithm: .gzip, configuration: zlib)
            smallDeflater = SmallBodyDeflater(wrapper: .gzip)
        }
        let sender = PostSender(
            client: client, statistics: statistics, tokens: tokens, revocations: revocations, backoff: options.backoff,
            encoding: options.encoding, drainDeadline: drainDeadline, revokeStart: start + options.revokeAfter,
            seed: seed
        )
        var scratch = ByteBuffer()
        scratch.reserveCapacity(128 + 80 * recordCount)
        let loop = client.telemetryPool.map { EventLoopTaskExecutor($0.eventLoop) }
        // With the pool, posts are callbacks on its loop, where this generator runs too (its
        // task prefers the loop's executor); otherwise each post is a task.
        let pool = client.telemetryPool
        let tracker = pool.map {
            NIOLoopBoundBox.makeBoxSendingValue(
                EventLoopPostTracker(eventLoop: $0.eventLoop, inFlight: inFlight), eventLoop: $0.eventLoop)
        }

        await withDiscardingTaskGroup { group in
            var index = 0
            while index < total {
                let due = start + schedule.offset(ofRequest: index)
                if clock.now < due {
                    do {
                        if let loop { try await loop.sleep(until: due) } else { try await clock.sleep(until: due) }
                    } catch { break }
                }
                let now = clock.now
                let wallMillis = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
                while index < total {
                    let scheduledAt = start + schedule.offset(ofRequest: index)
                    if scheduledAt > now { break }
                    defer { index += 1 }
                    let deviceIndex = index % devices.count
                    guard inFlight.current < maxInFlight else {
                        statistics.recordScheduled(skipped: true)
                        continue
                    }
                    guard let authorization = tokens.authorization(for: deviceIndex) else {
                        statistics.recordScheduled(skipped: true)
                        statistics.withState { $0.errorsByCode["no_token", default: 0] += 1 }
                        continue
                    }
                    statistics.recordScheduled(skipped: false)

                    let baseTime = max(
                        wallMillis + devices[deviceIndex].skewMillis, devices[deviceIndex].lastTimeMillis + 1)
                    devices[deviceIndex].lastTimeMillis = baseTime + span - 1
                    scratch.clear()
                    writer.write(
                        deviceID: devices[deviceIndex].id, baseTimeMillis: baseTime, recordCount: recordCount,
                        state: &devices[deviceIndex].sensors, using: &random, into: &scratch
                    )
                    var body: ByteBuffer
                    if let smallDeflater, scratch.readableBytes <= SmallBodyDeflater.maxInputBytes {
                        body = ByteBuffer()
                        body.reserveCapacity(
                            SmallBodyDeflater.maxOutputBytes(
                                inputBytes: scratch.readableBytes, wrapper: smallDeflater.wrapper))
                        smallDeflater.compress(scratch, into: &body)
                    } else if let compressor {
                        do {
                            try compressor.reset()
                            body = ByteBuffer()
                            body.reserveCapacity(compressor.maxSize(from: scratch))
                            try compressor.deflate(from: &scratch, to: &body, flush: .finish)
                        } catch {
                            body = scratch
                        }
                    } else {
                        body = scratch
                    }
                    let corrupt = EvenSelection.isSelected(
                        index, fraction: options.corruptFraction, phase: EvenSelection.corruptPhase)
                    if corrupt {
                        Self.corrupt(&body, encoding: options.encoding)
                        statistics.withState { $0.corruptSent += 1 }
                    }
                    let post = PendingPost(
                        index: index, deviceIndex: deviceIndex, deviceID: devices[deviceIndex].id,
                        idempotencyKey: runID + "-" + String(index, radix: 36), body: body,
                        baseTimeMillis: baseTime, recordCount: recordCount, scheduledAt: scheduledAt, corrupt: corrupt,
                        skewed: devices[deviceIndex].skewMillis != 0,
                        revocationCandidate: devices[deviceIndex].revocationCandidate
                    )
                    inFlight.increment()
                    if let pool, let tracker {
                        if pool.eventLoop.inEventLoop {
                            EventLoopPost.start(
                                post, firstAuthorization: authorization, sender: sender, pool: pool,
                                tracker: tracker.value)
                        } else {
                            pool.eventLoop.execute {
                                EventLoopPost.start(
                                    post, firstAuthorization: authorization, sender: sender, pool: pool,
                                    tracker: tracker.value)
                            }
                        }
                    } else {
                        group.addTask {
                            await sender.send(post, firstAuthorization: authorization)
                            inFlight.decrement()
                        }
                    }
                }
            }
        }
        if let tracker { await EventLoopPostTracker.waitForAll(tracker) }
    }

    /// The fastest level, with a window and hash table sized to the body. deflateReset clears
    /// the whole hash table before every body: 64 KiB at the default memory level, for a
    /// batch-1 body of ~100 bytes, and most of the compression time. A window of at least the
    /// body keeps every match the default window would find.
    static func zlibConfiguration(recordsPerBatch: Int) -> ZlibConfiguration {
        let bodyBytes = 128 + 80 * recordsPerBatch
        let windowBits = min(15, max(9, Int.bitWidth - (bodyBytes - 1).leadingZeroBitCount))
        // 2^(memLevel + 7) hash heads: as many as the window has bytes.
        let memoryLevel = max(1, min(8, windowBits - 7))
        return ZlibConfiguration(
            windowSize: Int32(windowBits), compressionLevel: 1, memoryLevel: Int32(memoryLevel))
    }

    /// Whether device `index` is among those a chaos run revokes.
    static func isRevocationCandidate(_ index: Int, fraction: Double) -> Bool {
        EvenSelection.isSelected(index, fraction: fraction, phase: EvenSelection.revokePhase)
    }

    /// Spoils a body so the server must answer `bad_payload`: a zlib header naming compression
    /// method 0 (RFC 1950 §2.2 allows only 8), a gzip stream without its magic, or cut-off JSON.
    static func corrupt(_ body: inout ByteBuffer, encoding: BodyEncoding) {
        switch encoding {
        case .deflate, .gzip:
            if body.readableBytes >= 2 { body.setInteger(UInt16(0), at: body.readerIndex) }
        case .identity:
            body.moveWriterIndex(to: body.readerIndex + max(1, body.readableBytes / 2))
        }
    }
}

/// Sends one batch until it is acknowledged, refused for good, or out of attempts, and records
/// what happened.
final class PostSender: Sendable {
    let client: FleetgateClient
    let statistics: RunStatistics
    let tokens: TokenKeeper
    let revocations: Revocations
    let backoff: Backoff
    let encoding: BodyEncoding
    let drainDeadline: ContinuousClock.Instant
    let revokeStart: ContinuousClock.Instant
    let seed: UInt64

    init(
        client: FleetgateClient, statistics: RunStatistics, tokens: TokenKeeper, revocations: Revocations,
        backoff: Backoff,
        encoding: BodyEncoding, drainDeadline: ContinuousClock.Instant, revokeStart: ContinuousClock.Instant,
        seed: UInt64
    ) {
        self.client = client
        self.statistics = statistics
        self.tokens = tokens
        self.revocations = revocations
        self.backoff = backoff
        self.encoding = encoding
        self.drainDeadline = drainDeadline
        self.revokeStart = revokeStart
        self.seed = seed
    }

    func send(_ post: PendingPost, firstAuthorization: String) async {
        var progress = PostProgress(seed: seed, index: post.index)
        while true {
            let authorization = authorization(for: post, progress: progress, first: firstAuthorization)
            let sentAt = ContinuousClock.now
            let outcome = await client.postTelemetry(
                body: post.body, encoding: encoding, authorization: authorization, idempotencyKey: post.idempotencyKey
            )
            guard let delay = afterAttempt(outcome, post: post, progress: &progress, sentAt: sentAt) else { return }
            do {
                try await Task.sleep(for: delay)
            } catch {
                giveUp(post, progress: progress, sentAt: sentAt)
                return
            }
        }
    }

    /// The token for the next attempt: a retry uses the newest, the first may have been
    /// refreshed meanwhile.
    func authorization(for post: PendingPost, progress: PostProgress, first: String) -> String {
        progress.failures == 0 ? first : (tokens.authorization(for: post.deviceIndex) ?? first)
    }

    /// Records an attempt sent at `sentAt`; returns the delay before the next one, or nil when
    /// the batch has ended (acknowledged or given up, and recorded as such).
    func afterAttempt(
        _ outcome: AttemptOutcome, post: PendingPost, progress: inout PostProgress, sentAt: ContinuousClock.Instant
    ) -> Duration? {
        let clock = ContinuousClock()
        statistics.recordAttempt(outcome, isRetry: progress.failures > 0)
        if case .accepted(_, let duplicate) = outcome {
            let batch = LedgerBatch(
                deviceID: post.deviceID, idempotencyKey: post.idempotencyKey, baseTimeMillis: post.baseTimeMillis,
                recordCount: post.recordCount, acknowledged: true
            )
            var acceptedAfterRevocation = false
            if let revokedAt = revocations.revokedAt(post.deviceIndex), sentAt > revokedAt + .seconds(1) {
                // API.md: ingest honours a revocation within 1 s.
                acceptedAfterRevocation = true
            }
            statistics.recordCompletion(
                latency: clock.now - post.scheduledAt,
                ending: .acknowledged(
                    post.corrupt ? nil : batch, duplicate: duplicate, firstAttempt: progress.failures == 0,
                    corrupt: post.corrupt, afterRevocation: acceptedAfterRevocation
                )
            )
            return nil
        }
        switch outcome {
        case .timeout, .connectionError: progress.mayBeStored = true
        case .problem(401, "token_expired", _): tokens.refreshSoon(index: post.deviceIndex, now: clock.now)
        default: break
        }
        progress.failures += 1
        if outcome.isRetryable, backoff.shouldRetry(afterFailedAttempts: progress.failures) {
            var retryAfter: Duration?
            if case .problem(_, _, let after) = outcome { retryAfter = after }
            let delay = backoff.delay(
                afterFailedAttempts: progress.failures, retryAfter: retryAfter, using: &progress.random)
            if clock.now + delay < drainDeadline { return delay }
        }
        giveUp(post, progress: progress, sentAt: sentAt)
        return nil
    }

    /// Records a batch given up after its last attempt, sent at `sentAt`. A body that may have
    /// been stored by a timed-out attempt is "in doubt": verify then allows its records but
    /// does not demand them.
    func giveUp(_ post: PendingPost, progress: PostProgress, sentAt: ContinuousClock.Instant) {
        var expected = post.corrupt || post.skewed
        if post.revocationCandidate, sentAt >= revokeStart { expected = true }
        let inDoubt =
            progress.mayBeStored && !post.corrupt
            ? LedgerBatch(
                deviceID: post.deviceID, idempotencyKey: post.idempotencyKey, baseTimeMillis: post.baseTimeMillis,
                recordCount: post.recordCount, acknowledged: false
            ) : nil
        statistics.recordCompletion(
            latency: ContinuousClock.now - post.scheduledAt, ending: .gaveUp(inDoubt: inDoubt, expected: expected))
    }
}

/// Where one batch's attempts stand.
struct PostProgress {
    /// Backoff jitter, seeded per batch so a run's retries are reproducible.
    var random: SplitMix64
    var failures = 0
    /// An attempt timed out or lost its connection, so the server may have stored the body.
    var mayBeStored = false

    init(seed: UInt64, index: Int) {
        random = SplitMix64(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
    }
}
