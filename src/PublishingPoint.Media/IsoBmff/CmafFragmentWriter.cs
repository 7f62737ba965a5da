using System.Buffers;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// One self-contained CMAF media segment for HLS players, from the samples of an ingested fragment (see
/// <see cref="FragmentSamples"/>), their bytes kept as sent: <see cref="FragmentWriter"/> with a 'styp' of CMAF brands.
/// </summary>
public static class CmafFragmentWriter
{
    /// <summary>Bytes <see cref="Write"/> produces for these samples.</summary>
    public static long GetLength(ReadOnlySpan<FragmentSample> samples)
    {
        var output = ArrayPool<OutputSample>.Shared.Rent(Math.Max(samples.Length, 1));
        try
        {
            return FragmentWriter.GetLength(Header(0, 0, 0), ToOutput(samples, output));
        }
        finally
        {
            ArrayPool<OutputSample>.Shared.Return(output);
        }
    }

    /// <summary>
    /// Writes the segment. <paramref name="source"/> is the fragment the samples' data offsets refer to;
    /// <paramref name="baseDecodeTime"/> goes to 'tfdt' and should be the first sample's decode time.
    /// </summary>
    /// <param name="withStyp">False for a CMAF chunk after the first of a segment: moof+mdat only.</param>
    public static byte[] Write(ReadOnlySpan<byte> source, ReadOnlySpan<FragmentSample> samples, uint trackId, uint sequenceNumber, long baseDecodeTime, bool withStyp = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(baseDecodeTime);
        var rented = ArrayPool<OutputSample>.Shared.Rent(Math.Max(samples.Length, 1));
        try
        {
            var output = ToOutput(samples, rented);
            var header = Header(trackId, sequenceNumber, baseDecodeTime) with { WithStyp = withStyp };
            var segment = new byte[FragmentWriter.GetLength(header, output)];
            var at = FragmentWriter.WriteBoxes(segment, header, output);
            foreach (var sample in samples)
            {
                source.Slice(sample.DataOffset, sample.Size).CopyTo(segment.AsSpan(at));
                at += sample.Size;
            }

            return segment;
        }
        finally
        {
            ArrayPool<OutputSample>.Shared.Return(rented);
        }
    }

    private static FragmentHeader Header(uint trackId, uint sequenceNumber, long baseDecodeTime) =>
        new(sequenceNumber, trackId, baseDecodeTime, WithStyp: true, CmafBrands: true);

    private static ReadOnlySpan<OutputSample> ToOutput(ReadOnlySpan<FragmentSample> samples, OutputSample[] output)
    {
        for (var i = 0; i < samples.Length; i++)
        {
            var sample = samples[i];
            output[i] = new OutputSample(sample.Duration, sample.Size, sample.Flags, sample.CompositionOffset);
        }

        return output.AsSpan(0, samples.Length);
    }
}
