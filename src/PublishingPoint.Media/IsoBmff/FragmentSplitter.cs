namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// Splits a multi-track fragment (one 'moof' with a 'traf' per track, one 'mdat', as CMAF ingest sends it)
/// into single-track fragments: moof(mfhd, traf) + mdat(that track's samples), with the 'trun'
/// data offsets moved to the new layout. The samples of one 'traf' must be contiguous.
/// </summary>
public static class FragmentSplitter
{
    public static List<byte[]> Split(ReadOnlySpan<byte> fragment, int moofLength, IReadOnlyList<TrackFragment> trafs)
    {
        ArgumentNullException.ThrowIfNull(trafs);
        var moof = fragment[..moofLength];
        BoxHeader.TryRead(moof, out var moofHeader);
        var mfhdAt = BoxReader.Find(moof[moofHeader.HeaderLength..], BoxTypes.Mfhd, out var mfhdHeader);
        var mfhd = mfhdAt < 0 ? [] : moof.Slice(moofHeader.HeaderLength + mfhdAt, (int)mfhdHeader.Size);

        // Each track's samples are copied out: together they must fit in the 'mdat' (track fragments that all name the
        // same bytes would make copies many times the size of what was sent), and one track has one track fragment.
        BoxHeader.TryRead(fragment[moofLength..], out var mdatHeader);
        var payload = fragment.Length - moofLength - mdatHeader.HeaderLength;
        if (trafs.Sum(t => t.DataSize) > payload)
        {
            throw InvalidBoxException.For(BoxTypes.Moof, $"its track fragments name more sample bytes than its 'mdat' holds ({payload})");
        }

        if (trafs.Select(t => t.TrackId).Distinct().Count() != trafs.Count)
        {
            throw InvalidBoxException.For(BoxTypes.Moof, "holds two track fragments of one track");
        }

        var pieces = new List<byte[]>(trafs.Count);
        long previousEnd = 0;
        for (var i = 0; i < trafs.Count; i++)
        {
            var traf = trafs[i];
            if (traf.HasExplicitBaseOffset)
            {
                throw InvalidBoxException.For(BoxTypes.Tfhd, "absolute base_data_offset is not supported in ingest");
            }

            var start = i == 0 || traf.BaseIsMoof ? traf.DataOffset : previousEnd + traf.DataOffset;
            if (start < moofLength || start + traf.DataSize > fragment.Length)
            {
                throw InvalidBoxException.For(BoxTypes.Trun, $"track {traf.TrackId} data lies outside its 'mdat'");
            }

            previousEnd = start + traf.DataSize;
            BoxHeader.TryRead(moof[traf.TrafOffset..], out var trafHeader);
            var trafBytes = moof.Slice(traf.TrafOffset, (int)trafHeader.Size);
            var newMoofSize = 8 + mfhd.Length + trafBytes.Length;
            var output = new byte[newMoofSize + 8 + traf.DataSize];
            var span = output.AsSpan();
            var at = BoxHeader.Write(span, BoxTypes.Moof, newMoofSize);
            mfhd.CopyTo(span[at..]);
            at += mfhd.Length;
            trafBytes.CopyTo(span[at..]);
            TrackRunPatcher.ShiftDataOffsets(span.Slice(at, trafBytes.Length), newMoofSize + 8 - start);
            at += trafBytes.Length;
            at += BoxHeader.Write(span[at..], BoxTypes.Mdat, 8 + traf.DataSize);
            fragment.Slice((int)start, (int)traf.DataSize).CopyTo(span[at..]);
            pieces.Add(output);
        }

        return pieces;
    }
}
