using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>Reads the first sample entry of an 'stsd' (§8.5.2): visual (avc1/avc3) or audio (mp4a).</summary>
internal static class SampleEntryReader
{
    // SampleEntry: reserved(6) data_reference_index(2). VisualSampleEntry adds 70 bytes, AudioSampleEntry 20.
    private const int VisualEntryFixed = 8 + 70;
    private const int AudioEntryFixed = 8 + 20;

    public static TrackInfo Apply(TrackInfo track, ReadOnlySpan<byte> stsd)
    {
        MovieFragmentReader.RequireLength(stsd, 8, BoxTypes.Stsd);
        var entries = new BoxReader(stsd[8..]);
        if (!entries.TryNext())
        {
            throw InvalidBoxException.For(BoxTypes.Stsd, "has no sample entry");
        }

        var type = entries.Header.Type;
        var entry = entries.Payload;
        track = track with { SampleEntry = type };
        if (track.Kind == TrackKind.Video && entry.Length >= VisualEntryFixed)
        {
            track = track with
            {
                Width = BinaryPrimitives.ReadUInt16BigEndian(entry[24..]),
                Height = BinaryPrimitives.ReadUInt16BigEndian(entry[26..]),
            };
            return ApplyChildren(track, entry[VisualEntryFixed..]);
        }

        if (track.Kind == TrackKind.Audio && entry.Length >= AudioEntryFixed)
        {
            track = track with
            {
                Channels = BinaryPrimitives.ReadUInt16BigEndian(entry[16..]),
                SampleSize = BinaryPrimitives.ReadUInt16BigEndian(entry[18..]),
                SampleRate = (int)(BinaryPrimitives.ReadUInt32BigEndian(entry[24..]) >> 16),
            };
            return ApplyChildren(track, entry[AudioEntryFixed..]);
        }

        return track;
    }

    private static TrackInfo ApplyChildren(TrackInfo track, ReadOnlySpan<byte> children)
    {
        var boxes = new BoxReader(children);
        while (boxes.TryNext())
        {
            var payload = boxes.Payload;
            if (boxes.Header.Type == BoxTypes.AvcC)
            {
                track = track with { DecoderConfig = payload.ToArray() };
            }
            else if (boxes.Header.Type == BoxTypes.Btrt && payload.Length >= 12)
            {
                track = track with { AverageBitrate = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(payload[8..]), int.MaxValue) };
            }
            else if (boxes.Header.Type == BoxTypes.Esds && payload.Length > 4)
            {
                track = EsDescriptorReader.Apply(track, payload[4..]);
            }
        }

        return track;
    }
}
