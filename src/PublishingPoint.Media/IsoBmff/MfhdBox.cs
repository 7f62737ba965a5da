using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>§8.8.5 MovieFragmentHeaderBox ('mfhd'): FullBox v0, sequence_number(32).</summary>
public readonly record struct MfhdBox(uint SequenceNumber)
{
    public const int Size = 8 + 4 + 4;

    public static MfhdBox Read(ReadOnlySpan<byte> payload)
    {
        MovieFragmentReader.RequireLength(payload, 8, BoxTypes.Mfhd);
        return new MfhdBox(BinaryPrimitives.ReadUInt32BigEndian(payload[4..]));
    }

    public int Write(Span<byte> destination)
    {
        var w = new SpanWriter(destination);
        Write(ref w);
        return w.Position;
    }

    internal void Write(ref SpanWriter w)
    {
        w.FullBox(BoxTypes.Mfhd, Size, 0, 0);
        w.UInt32(SequenceNumber);
    }
}
