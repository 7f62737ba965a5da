using System.Buffers.Binary;
using System.Text;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>A four-character code as it sits on the wire: four bytes, big-endian.</summary>
public readonly record struct FourCC(uint Value)
{
    public static FourCC From(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length != 4)
        {
            throw new ArgumentException("A FourCC has exactly four characters.", nameof(text));
        }

        return new FourCC((uint)(text[0] << 24 | text[1] << 16 | text[2] << 8 | text[3]));
    }

    public static FourCC Read(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt32BigEndian(source));

    public void Write(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, Value);

    /// <summary>True when all four bytes are printable ASCII, as every registered box type is.</summary>
    public bool IsPrintable
    {
        get
        {
            for (var shift = 24; shift >= 0; shift -= 8)
            {
                var b = (Value >> shift) & 0xFF;
                if (b < 0x20 || b > 0x7E)
                {
                    return false;
                }
            }

            return true;
        }
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[4];
        Write(bytes);
        return IsPrintable ? Encoding.ASCII.GetString(bytes) : $"0x{Value:X8}";
    }
}
