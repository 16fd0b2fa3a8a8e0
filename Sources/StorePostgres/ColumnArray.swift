import NIOCore
import PostgresNIO
import Store

/// One column of a bulk insert as a PostgreSQL array parameter, in the binary array format
/// (PostgreSQL's `array_send`): PostgresNIO's own arrays cannot hold a NULL element.
struct ColumnArray: PostgresDynamicTypeEncodable {
    let type: SQLBulkInsert.ColumnType
    let values: [SQLValue]

    var psqlType: PostgresDataType {
        switch type {
        case .text: .textArray
        case .real: .float8Array
        case .integer: .int8Array
        }
    }

    var psqlFormat: PostgresFormat { .binary }

    private var elementType: PostgresDataType {
        switch type {
        case .text: .text
        case .real: .float8
        case .integer: .int8
        }
    }

    /// A value that does not fit its column's declared type is the store's own mistake (the
    /// column types are written beside the column names); the row is refused, never coerced.
    static func check(_ value: SQLValue, as type: SQLBulkInsert.ColumnType) -> Bool {
        switch (value, type) {
        // An element's length is a 32-bit count on the wire.
        case (.text(let s), .text): s.utf8.count <= Int(Int32.max)
        case (.null, _), (.real, .real), (.integer, .real), (.integer, .integer): true
        default: false
        }
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(1))  // dimensions
        buffer.writeInteger(Int32(values.contains(.null) ? 1 : 0))
        buffer.writeInteger(elementType.rawValue)
        buffer.writeInteger(Int32(values.count))
        buffer.writeInteger(Int32(1))  // lower bound
        for value in values {
            switch value {
            case .null:
                buffer.writeInteger(Int32(-1))
            case .text(let s):
                let length = buffer.writerIndex
                buffer.writeInteger(Int32(0))
                let written = buffer.writeString(s)
                buffer.setInteger(Int32(written), at: length)
            case .real(let d):
                buffer.writeInteger(Int32(8))
                buffer.writeInteger(d.bitPattern)
            case .integer(let i):
                if type == .real {
                    buffer.writeInteger(Int32(8))
                    buffer.writeInteger(Double(i).bitPattern)
                } else {
                    buffer.writeInteger(Int32(8))
                    buffer.writeInteger(i)
                }
            case .blob:
                // Refused by `check` before encoding; no bulk column is binary.
                buffer.writeInteger(Int32(-1))
            }
        }
    }
}
