using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// Writes one self-contained media segment for HLS/CMAF players: styp, moof(mfhd, traf(tfhd with
/// default-base-is-moof, tfdt, trun v1 with every field explicit)) and one mdat holding the samples in order.
/// The samples come from an ingested fragment (see <see cref="FragmentSamples"/>) and keep their bytes as sent.
/// </summary>
public static class CmafFragmentWriter
{
    private const uint DefaultBaseIsMoof = 0x020000;
    private const uint TrunFlags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;
    private const int TrunEntrySize = 16;
    private static readonly FourCC[] _brands = [FourCC.From("msdh"), FourCC.From("cmfs"), FourCC.From("cmff"), FourCC.From("iso6")];

    public static int StypSize => 16 + (4 * _brands.Length);

    /// <summary>Bytes <see cref="Write"/> produces for these samples.</summary>
    public static long GetLength(ReadOnlySpan<FragmentSample> samples)
    {
        long data = 0;
        foreach (var sample in samples)
        {
            data += sample.Size;
        }

        return StypSize + MoofSize(samples.Length) + MdatHeaderSize(data) + data;
    }

    /// <summary>
    /// Writes the segment. <paramref name="source"/> is the fragment the samples' data offsets refer to;
    /// <paramref name="baseDecodeTime"/> goes to 'tfdt' and should be the first sample's decode time.
    /// </summary>
    public static byte[] Write(ReadOnlySpan<byte> source, ReadOnlySpan<FragmentSample> samples, uint trackId, uint sequenceNumber, long baseDecodeTime)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(baseDecodeTime);
        long data = 0;
        foreach (var sample in samples)
        {
            data += sample.Size;
        }

        var moofSize = MoofSize(samples.Length);
        var mdatHeader = MdatHeaderSize(data);
        var output = new byte[checked((int)(StypSize + moofSize + mdatHeader + data))];
        var span = output.AsSpan();

        var at = BoxHeader.Write(span, BoxTypes.Styp, StypSize);
        _brands[0].Write(span[at..]);
        at += 8; // major brand, minor version 0
        foreach (var brand in _brands)
        {
            brand.Write(span[at..]);
            at += 4;
        }

        var moofAt = at;
        at += BoxHeader.Write(span[at..], BoxTypes.Moof, moofSize);
        at += BoxHeader.Write(span[at..], BoxTypes.Mfhd, 16);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], sequenceNumber);
        at += 8;

        at += BoxHeader.Write(span[at..], BoxTypes.Traf, moofSize - 8 - 16);
        at += BoxHeader.Write(span[at..], BoxTypes.Tfhd, 16);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], DefaultBaseIsMoof);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], trackId);
        at += 8;

        at += BoxHeader.Write(span[at..], BoxTypes.Tfdt, 20);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x0100_0000);
        BinaryPrimitives.WriteUInt64BigEndian(span[(at + 4)..], (ulong)baseDecodeTime);
        at += 12;

        at += BoxHeader.Write(span[at..], BoxTypes.Trun, TrunSize(samples.Length));
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x0100_0000 | TrunFlags);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], (uint)samples.Length);
        BinaryPrimitives.WriteInt32BigEndian(span[(at + 8)..], moofSize + mdatHeader);
        at += 12;
        foreach (var sample in samples)
        {
            BinaryPrimitives.WriteUInt32BigEndian(span[at..], sample.Duration);
            BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], (uint)sample.Size);
            BinaryPrimitives.WriteUInt32BigEndian(span[(at + 8)..], sample.Flags);
            BinaryPrimitives.WriteInt32BigEndian(span[(at + 12)..], sample.CompositionOffset);
            at += TrunEntrySize;
        }

        if (at != moofAt + moofSize)
        {
            throw new InvalidOperationException("moof layout mismatch");
        }

        at += BoxHeader.Write(span[at..], BoxTypes.Mdat, mdatHeader + data);
        foreach (var sample in samples)
        {
            source.Slice(sample.DataOffset, sample.Size).CopyTo(span[at..]);
            at += sample.Size;
        }

        return output;
    }

    private static int TrunSize(int count) => 8 + 12 + (TrunEntrySize * count);

    // moof header + mfhd + traf header + tfhd (no optional fields) + tfdt v1 + trun
    private static int MoofSize(int count) => 8 + 16 + 8 + 16 + 20 + TrunSize(count);

    private static int MdatHeaderSize(long data) => data + 8 > uint.MaxValue ? 16 : 8;
}
