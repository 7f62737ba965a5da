using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Smooth;

namespace PublishingPoint.Media.Tests.Fuzzing;

/// <summary>
/// Runs every parser and reader over one input the way the server does (ingest, archive scan, delivery), going
/// on past each clean refusal so later stages still see the rest. A clean refusal is a <see cref="FormatException"/>
/// (which <see cref="InvalidBoxException"/> is) or an <see cref="InvalidDataException"/>; anything else escapes.
/// </summary>
internal static class ParserDriver
{
    public static bool IsCleanRefusal(Exception e) => e is FormatException or InvalidDataException;

    /// <summary>An ISO-BMFF body: header boxes, then moof+mdat pairs.</summary>
    public static void Fmp4(byte[] data)
    {
        var defaults = new Dictionary<uint, SampleDefaults>();
        var parts = new Dictionary<uint, List<FragmentPart>>();
        byte[]? moov = null;
        List<TrackInfo> tracks = [];
        byte[]? moof = null;
        var at = 0;
        while (at < data.Length)
        {
            BoxHeader header;
            try
            {
                if (!BoxHeader.TryRead(data.AsSpan(at), out header))
                {
                    break;
                }
            }
            catch (Exception e) when (IsCleanRefusal(e))
            {
                break;
            }

            if (header.Size > data.Length - at)
            {
                break;
            }

            var box = data.AsSpan(at, (int)header.Size).ToArray();
            at += (int)header.Size;
            if (header.Type == BoxTypes.Moov)
            {
                moov = box;
                Guard(() =>
                {
                    tracks = MovieReader.Read(box);
                    defaults = tracks.ToDictionary(t => t.TrackId, t => t.Defaults);
                });
                foreach (var track in tracks)
                {
                    Guard(() => Codec(track));
                    Guard(() => ReadInit(InitSegmentWriter.Write(box, track)));
                }
            }
            else if (header.Type == BoxTypes.Uuid && header.UserType == BoxTypes.IsmlManifest)
            {
                Guard(() => ServerManifest.Read(box.AsSpan(header.HeaderLength)));
            }
            else if (header.Type == BoxTypes.Moof)
            {
                moof = box;
            }
            else if (header.Type == BoxTypes.Mdat && moof is not null)
            {
                byte[] fragment = [.. moof, .. box];
                var moofLength = moof.Length;
                moof = null;
                Guard(() => Fragment(fragment, moofLength, defaults, parts, moov is not null));
            }
        }

        foreach (var (trackId, list) in parts)
        {
            if (list.Count > 1)
            {
                Guard(() =>
                {
                    var merged = FragmentMerger.Merge(list, 0);
                    ReadSingle(merged, defaults.GetValueOrDefault(trackId));
                });
            }
        }
    }

    private static void Fragment(byte[] fragment, int moofLength, Dictionary<uint, SampleDefaults> defaults, Dictionary<uint, List<FragmentPart>> parts, bool haveMoov)
    {
        var trafs = MovieFragmentReader.Read(fragment.AsSpan(0, moofLength), id => defaults.GetValueOrDefault(id));
        var pieces = trafs.Count > 1 ? FragmentSplitter.Split(fragment, moofLength, trafs) : [fragment];
        foreach (var piece in pieces)
        {
            Guard(() =>
            {
                var traf = ReadSingle(piece, defaults.GetValueOrDefault(trafs[0].TrackId));
                if (haveMoov)
                {
                    if (!parts.TryGetValue(traf.TrackId, out var list))
                    {
                        parts[traf.TrackId] = list = [];
                    }

                    list.Add(new FragmentPart(piece, traf));
                }
            });
        }
    }

    /// <summary>A single-track fragment through what ingest and delivery do with it.</summary>
    private static TrackFragment ReadSingle(byte[] piece, SampleDefaults trackDefaults)
    {
        BoxHeader.TryRead(piece, out var moof);
        var traf = MovieFragmentReader.Read(piece.AsSpan(0, (int)Math.Min(moof.Size, piece.Length)), _ => trackDefaults)[0];
        var time = traf.TfxdTime ?? traf.DecodeTime ?? 0;
        var duration = traf.TfxdDuration ?? traf.SummedDuration;
        Guard(() => SmoothFragmentWriter.Write(piece, traf, time, duration, [(time + duration, duration)]));
        Guard(() =>
        {
            var samples = new List<FragmentSample>();
            FragmentSamples.Read(piece, traf.Defaults, time, samples);
            var cmaf = CmafFragmentWriter.Write(piece, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(samples), traf.TrackId, 1, Math.Max(time, 0));
            foreach (var sample in samples)
            {
                Guard(() => AnnexB.GetLength(piece.AsSpan(sample.DataOffset, sample.Size), 4, default));
            }

            _ = cmaf;
        });
        return traf;
    }

    private static void Codec(TrackInfo track)
    {
        if (track.Kind == TrackKind.Video)
        {
            var avc = AvcDecoderConfiguration.Parse(track.DecoderConfig);
            _ = avc.CodecString;
            var record = new byte[avc.GetRecordLength()];
            avc.Write(record);
            AvcDecoderConfiguration.Parse(record);
        }
        else if (track.Kind == TrackKind.Audio)
        {
            _ = AudioSpecificConfig.Parse(track.DecoderConfig).CodecString;
        }
    }

    /// <summary>An MPEG-TS body, pushed in chunks of varying size, then flushed.</summary>
    public static void Ts(byte[] data)
    {
        var sink = new CheckingSink();
        var fragmenter = new TsFragmenter(sink, new TsFragmenterOptions { TargetDuration90k = 90_000 });
        var chunking = new Random(data.Length);
        try
        {
            var at = 0;
            while (at < data.Length)
            {
                var take = Math.Min(data.Length - at, 1 + chunking.Next(4096));
                fragmenter.Push(data.AsSpan(at, take));
                at += take;
            }

            fragmenter.Flush();
        }
        catch (Exception e) when (IsCleanRefusal(e))
        {
            // refused: fine
        }
    }

    /// <summary>The 'moov' of an initialization segment, read back.</summary>
    private static void ReadInit(byte[] init)
    {
        var at = BoxReader.Find(init, BoxTypes.Moov, out var header);
        if (at < 0)
        {
            throw new InvalidOperationException("an initialization segment without 'moov' was written");
        }

        MovieReader.Read(init.AsMemory(at, (int)header.Size));
    }

    /// <summary>A SMIL server manifest.</summary>
    public static void Smil(byte[] data) => Guard(() => ServerManifest.Read(data));

    private static void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsCleanRefusal(e))
        {
            // refused: fine
        }
    }

    /// <summary>Reads back what the fragmenter makes, as the ingest behind it does.</summary>
    private sealed class CheckingSink : IFragmentSink
    {
        public void OnInitSegment(MovieTrack track, ReadOnlyMemory<byte> initSegment)
        {
            try
            {
                ReadInit(initSegment.ToArray());
            }
            catch (Exception e) when (IsCleanRefusal(e))
            {
                throw new InvalidOperationException("the fragmenter wrote an initialization segment it cannot read back", e);
            }
        }

        public void OnFragment(in MediaFragment fragment)
        {
            try
            {
                ReadBack(fragment);
            }
            catch (Exception e) when (IsCleanRefusal(e))
            {
                throw new InvalidOperationException("the fragmenter wrote a fragment it cannot read back", e);
            }
        }

        private static void ReadBack(in MediaFragment fragment)
        {
            var bytes = fragment.Data.ToArray();
            BoxHeader.TryRead(bytes, out var first);
            var moofAt = first.Type == BoxTypes.Styp ? (int)first.Size : 0;
            var piece = bytes[moofAt..];
            BoxHeader.TryRead(piece, out var moof);
            MovieFragmentReader.Read(piece.AsSpan(0, (int)moof.Size));
            FragmentSamples.Read(piece, default, fragment.DecodeTime, []);
        }
    }
}
