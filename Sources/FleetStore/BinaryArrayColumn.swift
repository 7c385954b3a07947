import NIOCore
import PostgresNIO

/// The element types a writer column holds: their array and element OIDs and how a value is written.
protocol BinaryArrayKind {
    associatedtype Value
    static var arrayType: PostgresDataType { get }
    static var elementType: PostgresDataType { get }
    /// A guess of one element's bytes (length word included), to size the buffer once.
    static var typicalSize: Int { get }
    static func write(_ value: Value, into buffer: inout ByteBuffer)
}

/// One column of a writer transaction, kept from the start as the element part of PostgreSQL's
/// binary array format (array_send: each element's length, then its bytes), so binding it copies
/// one buffer. Binding `[String]`, `[Double]`… instead went through postgres-nio's generic
/// per-element encoding: 17.5 % of ingest's CPU at batch 100 (perf).
struct BinaryArrayColumn<Kind: BinaryArrayKind>: PostgresNonThrowingEncodable {
    static var psqlType: PostgresDataType { Kind.arrayType }
    static var psqlFormat: PostgresFormat { .binary }

    private(set) var count = 0
    private var elements: ByteBuffer

    init(capacity: Int) {
        elements = ByteBufferAllocator().buffer(capacity: max(capacity, 1) * Kind.typicalSize)
    }

    mutating func append(_ value: Kind.Value) {
        count += 1
        Kind.write(value, into: &elements)
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        // Header as array_send writes it: dimensions (none for an empty array), no-nulls flag,
        // element type, then the size and lower bound (1) of the one dimension.
        buffer.writeInteger(Int32(count == 0 ? 0 : 1))
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(Kind.elementType.rawValue)
        guard count > 0 else { return }
        buffer.writeInteger(Int32(count))
        buffer.writeInteger(Int32(1))
        var elements = elements
        buffer.writeBuffer(&elements)
    }
}

enum TextElements: BinaryArrayKind {
    static let arrayType = PostgresDataType.textArray
    static let elementType = PostgresDataType.text
    static let typicalSize = 20
    static func write(_ value: String, into buffer: inout ByteBuffer) {
        // Length word and bytes in one reservation: each ByteBuffer write pays an exclusivity
        // check on its storage, which was 3 % of ingest's CPU at batch 100 (perf).
        var value = value
        value.withUTF8 { utf8 in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 + utf8.count) { target in
                target.storeBytes(of: Int32(utf8.count).bigEndian, as: Int32.self)
                UnsafeMutableRawBufferPointer(rebasing: target[4..<(4 + utf8.count)])
                    .copyMemory(from: UnsafeRawBufferPointer(utf8))
                return 4 + utf8.count
            }
        }
    }
}

enum Int64Elements: BinaryArrayKind {
    static let arrayType = PostgresDataType.int8Array
    static let elementType = PostgresDataType.int8
    static let typicalSize = 12
    static func write(_ value: Int64, into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(Int32(8), value)
    }
}

enum Int16Elements: BinaryArrayKind {
    static let arrayType = PostgresDataType.int2Array
    static let elementType = PostgresDataType.int2
    static let typicalSize = 6
    static func write(_ value: Int16, into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(Int32(2), value)
    }
}

enum Float64Elements: BinaryArrayKind {
    static let arrayType = PostgresDataType.float8Array
    static let elementType = PostgresDataType.float8
    static let typicalSize = 12
    static func write(_ value: Double, into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(Int32(8), value.bitPattern)
    }
}

enum BoolElements: BinaryArrayKind {
    static let arrayType = PostgresDataType.boolArray
    static let elementType = PostgresDataType.bool
    static let typicalSize = 5
    static func write(_ value: Bool, into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(Int32(1), UInt8(value ? 1 : 0))
    }
}
