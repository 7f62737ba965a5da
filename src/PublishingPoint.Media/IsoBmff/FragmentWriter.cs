using System.Buffers;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>What goes in the boxes of one single-track fragment besides its samples.</summary>
/// <param name="SequenceNumber">'mfhd' sequence_number, 1 for the first fragment of a track, then increasing.</param>
/// <param name="TrackId">'tfhd' track_ID.</param>
/// <param name="BaseMediaDecodeTime">'tfdt' decode time of the first sample, in the track timescale.</param>
/// <param name="WithStyp">Write a 'styp' first, as a DASH/CMAF media segment starts.</param>
/// <param name="CmafBrands">The 'styp' brands of a CMAF segment (msdh, cmfs, cmff, iso6) instead of DASH's (msdh, msix).</param>
public readonly record struct FragmentHeader(uint SequenceNumber, uint TrackId, long BaseMediaDecodeTime, bool WithStyp = false, bool CmafBrands = false);

/// <summary>
/// Writes [styp] moof(mfhd, traf(tfhd, tfdt, trun)) mdat for one track (ISO/IEC 14496-12 §8.8.4 to §8.8.8, §8.8.12,
/// §8.16.2). 'tfhd' sets default-base-is-moof; 'tfdt' is version 1; 'trun' is version 1 (signed composition
/// offsets) with data_offset and per-sample duration, size, flags, and composition offset (left out when all are 0).
/// </summary>
public static class FragmentWriter
{
    private const int TfhdSize = 8 + 8;

    private static readonly FourCC[] _dashBrands = [FourCC.From("msdh"), FourCC.From("msix")];
    private static readonly FourCC[] _cmafBrands = [FourCC.From("msdh"), FourCC.From("cmfs"), FourCC.From("cmff"), FourCC.From("iso6")];

    private static FourCC[] Brands(in FragmentHeader header) => header.CmafBrands ? _cmafBrands : _dashBrands;

    private static int StypLength(in FragmentHeader header) => 16 + (4 * Brands(header).Length);

    /// <summary>Total bytes of the fragment ([styp] moof mdat).</summary>
    public static int GetLength(in FragmentHeader header, ReadOnlySpan<OutputSample> samples)
    {
        var layout = Layout.Of(header, samples);
        return checked(layout.HeadersLength + (int)layout.DataLength);
    }

    /// <summary>Writes the fragment with the sample bytes in one span (their sizes must add up); returns bytes written.</summary>
    public static int Write(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, ReadOnlySpan<byte> sampleData)
    {
        var layout = Layout.Of(header, samples);
        if (sampleData.Length != layout.DataLength)
        {
            throw new ArgumentException($"Sample sizes add up to {layout.DataLength} but {sampleData.Length} bytes were given.", nameof(sampleData));
        }

        var at = WriteHeaders(destination, header, samples, layout);
        sampleData.CopyTo(destination[at..]);
        return at + sampleData.Length;
    }

    /// <summary>Writes the fragment with the sample bytes gathered from <paramref name="slices"/> in order.</summary>
    public static int Write(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, IReadOnlyList<ReadOnlyMemory<byte>> slices)
    {
        ArgumentNullException.ThrowIfNull(slices);
        var layout = Layout.Of(header, samples);
        long total = 0;
        for (var i = 0; i < slices.Count; i++)
        {
            total += slices[i].Length;
        }

        if (total != layout.DataLength)
        {
            throw new ArgumentException($"Sample sizes add up to {layout.DataLength} but the slices hold {total} bytes.", nameof(slices));
        }

        var at = WriteHeaders(destination, header, samples, layout);
        for (var i = 0; i < slices.Count; i++)
        {
            slices[i].Span.CopyTo(destination[at..]);
            at += slices[i].Length;
        }

        return at;
    }

    public static int Write(IBufferWriter<byte> writer, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, ReadOnlySpan<byte> sampleData)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var length = GetLength(header, samples);
        var written = Write(writer.GetSpan(length)[..length], header, samples, sampleData);
        writer.Advance(written);
        return written;
    }

    /// <summary>
    /// Writes everything but the sample bytes ([styp] moof, mdat header) into <paramref name="destination"/>, which
    /// must hold <see cref="GetLength"/> bytes; returns where the sample bytes go, for a caller that gathers them itself.
    /// </summary>
    public static int WriteBoxes(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples) =>
        WriteHeaders(destination, header, samples, Layout.Of(header, samples));

    private static int WriteHeaders(Span<byte> destination, in FragmentHeader header, ReadOnlySpan<OutputSample> samples, in Layout layout)
    {
        var w = new SpanWriter(destination[..layout.HeadersLength]);
        if (header.WithStyp)
        {
            // §8.16.2 SegmentTypeBox, same layout as 'ftyp'
            var brands = Brands(header);
            w.Box(BoxTypes.Styp, StypLength(header));
            w.FourCC(brands[0]);
            w.UInt32(0);
            foreach (var brand in brands)
            {
                w.FourCC(brand);
            }
        }

        w.Box(BoxTypes.Moof, layout.MoofLength);

        new MfhdBox(header.SequenceNumber).Write(ref w);
        w.Box(BoxTypes.Traf, 8 + TfhdSize + TfdtBox.Size + layout.TrunLength);

        // track_ID only; data offsets are relative to the 'moof'
        new TfhdBox(header.TrackId) { DefaultBaseIsMoof = true }.Write(ref w);
        new TfdtBox(header.BaseMediaDecodeTime).Write(ref w);

        // data_offset: from the 'moof' start to the first sample
        TrunBox.WriteHead(ref w, samples.Length, layout.MoofLength + layout.MdatHeaderLength, layout.HasCompositionOffsets);
        foreach (var sample in samples)
        {
            TrunBox.WriteEntry(ref w, sample.Duration, (uint)sample.Size, sample.Flags, sample.CompositionOffset, layout.HasCompositionOffsets);
        }

        // §8.1.1 MediaDataBox header; the sample bytes follow
        w.Box(BoxTypes.Mdat, layout.MdatHeaderLength + layout.DataLength);
        return w.Position;
    }

    private readonly record struct Layout(int StypLength, int MoofLength, int TrunLength, int MdatHeaderLength, long DataLength, bool HasCompositionOffsets)
    {
        public int HeadersLength => StypLength + MoofLength + MdatHeaderLength;

        public static Layout Of(in FragmentHeader header, ReadOnlySpan<OutputSample> samples)
        {
            long data = 0;
            var offsets = false;
            foreach (var sample in samples)
            {
                if (sample.Size < 0)
                {
                    throw new ArgumentException("A sample size is negative.", nameof(samples));
                }

                data += sample.Size;
                offsets |= sample.CompositionOffset != 0;
            }

            var trun = TrunBox.Size(samples.Length, offsets);
            var moof = 8 + MfhdBox.Size + 8 + TfhdSize + TfdtBox.Size + trun;
            var mdatHeader = data + 8 > uint.MaxValue ? 16 : 8;
            return new Layout(header.WithStyp ? FragmentWriter.StypLength(header) : 0, moof, trun, mdatHeader, data, offsets);
        }
    }
}
