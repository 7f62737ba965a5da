using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// §8.8.12 TrackFragmentBaseMediaDecodeTimeBox ('tfdt'): baseMediaDecodeTime, 32-bit in version 0, 64-bit in
/// version 1 (always written).
/// </summary>
public readonly record struct TfdtBox(long BaseMediaDecodeTime)
{
    public const int Size = 8 + 4 + 8;

    public static TfdtBox Read(ReadOnlySpan<byte> payload)
    {
        var version1 = payload.Length > 0 && payload[0] == 1;
        MovieFragmentReader.RequireLength(payload, version1 ? 12 : 8, BoxTypes.Tfdt);
        return new TfdtBox(version1 ? (long)BinaryPrimitives.ReadUInt64BigEndian(payload[4..]) : BinaryPrimitives.ReadUInt32BigEndian(payload[4..]));
    }

    public int Write(Span<byte> destination)
    {
        var w = new SpanWriter(destination);
        Write(ref w);
        return w.Position;
    }

    internal void Write(ref SpanWriter w)
    {
        w.FullBox(BoxTypes.Tfdt, Size, 1, 0);
        w.UInt64((ulong)BaseMediaDecodeTime);
    }
}
