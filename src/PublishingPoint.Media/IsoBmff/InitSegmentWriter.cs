using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// Builds a single-track initialization segment: ftyp + moov(mvhd, trak, mvex(trex)), reusing the
/// encoder's own 'mvhd' and 'trak' so the decoder configuration is exactly what was pushed.
/// </summary>
public static class InitSegmentWriter
{
    private static readonly FourCC[] _brands = [FourCC.From("iso6"), FourCC.From("isom"), FourCC.From("dash"), FourCC.From("piff")];

    public static byte[] Write(ReadOnlySpan<byte> sourceMoov, TrackInfo track)
    {
        ArgumentNullException.ThrowIfNull(track);
        BoxHeader.TryRead(sourceMoov, out var moovHeader);
        var mvhdAt = BoxReader.Find(sourceMoov[moovHeader.HeaderLength..], BoxTypes.Mvhd, out var mvhdHeader);
        if (mvhdAt < 0)
        {
            throw new InvalidBoxException("'moov' has no 'mvhd'");
        }

        var mvhd = sourceMoov.Slice(moovHeader.HeaderLength + mvhdAt, (int)mvhdHeader.Size);
        var trak = track.TrakBox.Span;
        const int TrexSize = 8 + 24;
        const int MvexSize = 8 + TrexSize;
        var ftypSize = 8 + 8 + (4 * _brands.Length);
        var moovSize = 8 + mvhd.Length + trak.Length + MvexSize;
        var output = new byte[ftypSize + moovSize];
        var span = output.AsSpan();

        var at = BoxHeader.Write(span, BoxTypes.Ftyp, ftypSize);
        _brands[0].Write(span[at..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], 0);
        at += 8;
        foreach (var brand in _brands)
        {
            brand.Write(span[at..]);
            at += 4;
        }

        at += BoxHeader.Write(span[at..], BoxTypes.Moov, moovSize);
        mvhd.CopyTo(span[at..]);
        at += mvhd.Length;
        trak.CopyTo(span[at..]);
        at += trak.Length;
        at += BoxHeader.Write(span[at..], BoxTypes.Mvex, MvexSize);
        at += BoxHeader.Write(span[at..], BoxTypes.Trex, TrexSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], track.TrackId);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 8)..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 12)..], track.Defaults.Duration);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 16)..], track.Defaults.Size);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 20)..], track.Defaults.Flags);
        return output;
    }
}
