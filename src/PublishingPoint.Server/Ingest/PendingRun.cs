using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Ingest;

/// <summary>Low-latency chunks of one track gathered until they make a fragment (a keyframe, a segment boundary, the end).</summary>
internal sealed class PendingRun(StreamArchive archive, long time)
{
    public StreamArchive Archive { get; } = archive;

    public long Time { get; } = time;

    public long End { get; private set; } = time;

    public List<FragmentPart> Parts { get; } = [];

    /// <summary>A chunk of the run was not taken as a part (another feed's were listed): the rest are not offered either.</summary>
    public bool PartsRefused { get; set; }

    /// <summary>Each chunk's samples, data offsets into that chunk.</summary>
    public List<FragmentSample[]> Samples { get; } = [];

    public long Bytes { get; private set; }

    /// <summary>The chunks' bytes and sample tables: what the connection's memory account holds for the run.</summary>
    public long Reserved { get; private set; }

    public int SampleCount { get; private set; }

    public void Add(FragmentPart part, long duration, FragmentSample[] samples)
    {
        Parts.Add(part);
        Samples.Add(samples);
        End += duration;
        Bytes += part.Bytes.Length;
        Reserved += ReservedFor(part.Bytes.Length, samples.Length);
        SampleCount += samples.Length;
    }

    /// <summary>What a chunk holds in memory: its bytes and its sample table (32 bytes a sample, which 1-byte samples outweigh).</summary>
    public static long ReservedFor(int bytes, int samples) => bytes + FragmentSample.TableBytes(samples);

    /// <summary>
    /// The samples of the chunks merged into one fragment whose sample data starts at <paramref name="dataStart"/>:
    /// each chunk's data follows the previous one's, in order (see <see cref="FragmentMerger"/>).
    /// </summary>
    public FragmentSample[] MergedSamples(long dataStart)
    {
        var merged = new FragmentSample[Samples.Sum(s => s.Length)];
        var at = 0;
        var data = dataStart;
        for (var p = 0; p < Parts.Count; p++)
        {
            var chunkData = Parts[p].Traf.DataOffset;
            foreach (var sample in Samples[p])
            {
                merged[at++] = sample with { DataOffset = checked((int)(data + sample.DataOffset - chunkData)) };
            }

            data += Parts[p].Traf.DataSize;
        }

        return merged;
    }
}
