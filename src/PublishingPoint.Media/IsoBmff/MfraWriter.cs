using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>One random-access point: a fragment's start time and where its 'moof' starts in the file.</summary>
public readonly record struct RandomAccessEntry(long Time, long MoofOffset);

/// <summary>
/// §8.8.9 to §8.8.11: mfra { tfra per track, mfro }. tfra version 1 entries are
/// time(64) moof_offset(64) traf_number(8) trun_number(8) sample_number(8).
/// </summary>
public static class MfraWriter
{
    private const int TfraEntrySize = 8 + 8 + 3;
    private const int MfroSize = 16;


    public static byte[] Write(IReadOnlyList<(uint TrackId, IReadOnlyList<RandomAccessEntry> Entries)> tracks)
    {
        ArgumentNullException.ThrowIfNull(tracks);
        var size = 8 + MfroSize;
        foreach (var (_, entries) in tracks)
        {
            size += TfraSize(entries.Count);
        }

        var output = new byte[size];
        var span = output.AsSpan();
        var at = BoxHeader.Write(span, BoxTypes.Mfra, size);
        foreach (var (trackId, entries) in tracks)
        {
            at += BoxHeader.Write(span[at..], BoxTypes.Tfra, TfraSize(entries.Count));
            BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x0100_0000);
            BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], trackId);
            BinaryPrimitives.WriteUInt32BigEndian(span[(at + 8)..], 0); // 1-byte traf/trun/sample numbers
            BinaryPrimitives.WriteUInt32BigEndian(span[(at + 12)..], (uint)entries.Count);
            at += 16;
            foreach (var entry in entries)
            {
                BinaryPrimitives.WriteInt64BigEndian(span[at..], entry.Time);
                BinaryPrimitives.WriteInt64BigEndian(span[(at + 8)..], entry.MoofOffset);
                span[at + 16] = 1;
                span[at + 17] = 1;
                span[at + 18] = 1;
                at += TfraEntrySize;
            }
        }

        at += BoxHeader.Write(span[at..], BoxTypes.Mfro, MfroSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], (uint)size);
        return output;
    }

    private static int TfraSize(int entries) => 8 + 16 + (entries * TfraEntrySize);
}
