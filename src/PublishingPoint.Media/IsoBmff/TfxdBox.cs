using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// MS-SSTR 2.2.4.4 TfxdBox ('uuid' 6d1d9b05-...): version(8) flags(24), then FragmentAbsoluteTime and
/// FragmentDuration, 64-bit each in version 1 (always written), 32-bit in version 0.
/// </summary>
public readonly record struct TfxdBox(long Time, long Duration)
{
    public const int Size = 24 + 4 + 16;

    /// <summary>Reads the payload after the 'uuid' header and its user type.</summary>
    public static TfxdBox Read(ReadOnlySpan<byte> payload)
    {
        MovieFragmentReader.RequireLength(payload, 4, BoxTypes.Uuid);
        if (payload[0] == 1)
        {
            MovieFragmentReader.RequireLength(payload, 20, BoxTypes.Uuid);
            return new TfxdBox(BinaryPrimitives.ReadInt64BigEndian(payload[4..]), BinaryPrimitives.ReadInt64BigEndian(payload[12..]));
        }

        MovieFragmentReader.RequireLength(payload, 12, BoxTypes.Uuid);
        return new TfxdBox(BinaryPrimitives.ReadUInt32BigEndian(payload[4..]), BinaryPrimitives.ReadUInt32BigEndian(payload[8..]));
    }

    public int Write(Span<byte> destination)
    {
        var at = BoxHeader.WriteUuid(destination, BoxTypes.Tfxd, Size);
        BinaryPrimitives.WriteUInt32BigEndian(destination[at..], 0x0100_0000);
        BinaryPrimitives.WriteInt64BigEndian(destination[(at + 4)..], Time);
        BinaryPrimitives.WriteInt64BigEndian(destination[(at + 12)..], Duration);
        return Size;
    }
}
