using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>Reads the tracks of an initialization 'moov' box (§8.2 to §8.5, §8.8.3).</summary>
public static class MovieReader
{
    public static List<TrackInfo> Read(ReadOnlyMemory<byte> moov)
    {
        var span = moov.Span;
        if (!BoxHeader.TryRead(span, out var header) || header.Type != BoxTypes.Moov || header.Size != span.Length)
        {
            throw new InvalidBoxException("expected one complete 'moov' box");
        }

        var trex = new Dictionary<uint, SampleDefaults>();
        var traks = new List<(int Offset, int Length)>();
        var children = new BoxReader(span[header.HeaderLength..]);
        while (children.TryNext())
        {
            if (children.Header.Type == BoxTypes.Trak)
            {
                traks.Add((header.HeaderLength + children.Offset, (int)children.Header.Size));
            }
            else if (children.Header.Type == BoxTypes.Mvex)
            {
                ReadTrex(children.Payload, trex);
            }
        }

        var tracks = new List<TrackInfo>(traks.Count);
        foreach (var (offset, length) in traks)
        {
            var track = ReadTrak(moov.Slice(offset, length));
            if (tracks.Exists(t => t.TrackId == track.TrackId))
            {
                throw InvalidBoxException.For(BoxTypes.Tkhd, $"track_ID {track.TrackId} is used by two tracks");
            }

            tracks.Add(track with { Defaults = trex.GetValueOrDefault(track.TrackId) });
        }

        return tracks;
    }

    private static void ReadTrex(ReadOnlySpan<byte> mvex, Dictionary<uint, SampleDefaults> trex)
    {
        var boxes = new BoxReader(mvex);
        while (boxes.TryNext())
        {
            if (boxes.Header.Type != BoxTypes.Trex)
            {
                continue;
            }

            // version/flags, track_ID, default_sample_description_index, duration, size, flags
            var p = boxes.Payload;
            MovieFragmentReader.RequireLength(p, 24, BoxTypes.Trex);
            trex[BinaryPrimitives.ReadUInt32BigEndian(p[4..])] = new SampleDefaults(
                BinaryPrimitives.ReadUInt32BigEndian(p[12..]),
                BinaryPrimitives.ReadUInt32BigEndian(p[16..]),
                BinaryPrimitives.ReadUInt32BigEndian(p[20..]));
        }
    }

    private static TrackInfo ReadTrak(ReadOnlyMemory<byte> trakBox)
    {
        var trak = trakBox.Span;
        BoxHeader.TryRead(trak, out var trakHeader);
        trak = trak[trakHeader.HeaderLength..];

        var tkhd = Child(trak, BoxTypes.Tkhd);
        var mdia = Child(trak, BoxTypes.Mdia);
        var mdhd = Child(mdia, BoxTypes.Mdhd);
        var hdlr = Child(mdia, BoxTypes.Hdlr);
        var stsd = Child(Child(Child(mdia, BoxTypes.Minf), BoxTypes.Stbl), BoxTypes.Stsd);

        var v1 = tkhd.Length > 0 && tkhd[0] == 1;
        MovieFragmentReader.RequireLength(tkhd, v1 ? 24 : 16, BoxTypes.Tkhd);
        var trackId = BinaryPrimitives.ReadUInt32BigEndian(tkhd[(v1 ? 20 : 12)..]);

        var mdhdV1 = mdhd.Length > 0 && mdhd[0] == 1;
        MovieFragmentReader.RequireLength(mdhd, mdhdV1 ? 34 : 22, BoxTypes.Mdhd);
        var timescale = BinaryPrimitives.ReadUInt32BigEndian(mdhd[(mdhdV1 ? 20 : 12)..]);
        var packedLanguage = BinaryPrimitives.ReadUInt16BigEndian(mdhd[(mdhdV1 ? 32 : 20)..]);

        MovieFragmentReader.RequireLength(hdlr, 12, BoxTypes.Hdlr);
        var handler = FourCC.Read(hdlr[8..]);
        var kind = handler == BoxTypes.HandlerVideo ? TrackKind.Video : handler == BoxTypes.HandlerAudio ? TrackKind.Audio : TrackKind.Other;

        if (timescale == 0)
        {
            throw InvalidBoxException.For(BoxTypes.Mdhd, "timescale is 0");
        }

        var track = new TrackInfo
        {
            TrackId = trackId,
            Kind = kind,
            Timescale = timescale,
            SampleEntry = default,
            Language = UnpackLanguage(packedLanguage),
            TrakBox = trakBox,
        };
        return SampleEntryReader.Apply(track, stsd);
    }

    internal static ReadOnlySpan<byte> Child(ReadOnlySpan<byte> container, FourCC type)
    {
        var reader = new BoxReader(container);
        while (reader.TryNext())
        {
            if (reader.Header.Type == type)
            {
                return reader.Payload;
            }
        }

        throw new InvalidBoxException($"missing '{type}' box");
    }

    private static string UnpackLanguage(ushort packed)
    {
        if (packed == 0 || packed == 0x7FFF)
        {
            return "und";
        }

        Span<char> chars = [(char)(((packed >> 10) & 0x1F) + 0x60), (char)(((packed >> 5) & 0x1F) + 0x60), (char)((packed & 0x1F) + 0x60)];
        foreach (var c in chars)
        {
            if (c < 'a' || c > 'z')
            {
                return "und";
            }
        }

        return new string(chars);
    }
}
