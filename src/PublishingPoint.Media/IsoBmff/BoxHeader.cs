using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// ISO/IEC 14496-12 §4.2 box header:
/// <code>
/// size(32) type(32) [largesize(64) if size==1] [usertype(128) if type=='uuid']
/// </code>
/// size 0 ("to the end of the file") is refused: a live body has no end to point at.
/// </summary>
public readonly record struct BoxHeader(FourCC Type, long Size, int HeaderLength, Guid UserType)
{
    public const int MaxHeaderLength = 32;

    public long PayloadLength => Size - HeaderLength;

    /// <summary>
    /// Reads a header. Returns false when <paramref name="source"/> is too short to tell (need more bytes);
    /// throws <see cref="InvalidBoxException"/> when the bytes cannot be a box header.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out BoxHeader header)
    {
        header = default;
        if (source.Length < 8)
        {
            return false;
        }

        long size = BinaryPrimitives.ReadUInt32BigEndian(source);
        var type = FourCC.Read(source[4..]);
        var headerLength = 8;
        if (size == 1)
        {
            if (source.Length < 16)
            {
                return false;
            }

            var large = BinaryPrimitives.ReadUInt64BigEndian(source[8..]);
            if (large > long.MaxValue)
            {
                throw InvalidBoxException.For(type, $"largesize {large} is out of range");
            }

            size = (long)large;
            headerLength = 16;
        }
        else if (size == 0)
        {
            throw InvalidBoxException.For(type, "size 0 (box runs to end of file) is not accepted in a stream");
        }

        var userType = Guid.Empty;
        if (type == BoxTypes.Uuid)
        {
            if (source.Length < headerLength + 16)
            {
                return false;
            }

            userType = new Guid(source.Slice(headerLength, 16), bigEndian: true);
            headerLength += 16;
        }

        if (size < headerLength)
        {
            throw InvalidBoxException.For(type, $"size {size} is smaller than its own header");
        }

        header = new BoxHeader(type, size, headerLength, userType);
        return true;
    }

    /// <summary>Writes a compact header (32-bit size) and returns its length.</summary>
    public static int Write(Span<byte> destination, FourCC type, long size)
    {
        if (size > uint.MaxValue)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, 1);
            type.Write(destination[4..]);
            BinaryPrimitives.WriteUInt64BigEndian(destination[8..], (ulong)size);
            return 16;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)size);
        type.Write(destination[4..]);
        return 8;
    }

    /// <summary>Writes a compact 'uuid' header with its user type and returns its length (24).</summary>
    public static int WriteUuid(Span<byte> destination, Guid userType, long size)
    {
        var written = Write(destination, BoxTypes.Uuid, size);
        userType.TryWriteBytes(destination.Slice(written, 16), bigEndian: true, out _);
        return written + 16;
    }
}
