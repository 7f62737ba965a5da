using System.Collections;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// Lines added from browser events (Playwright raises them on its own threads) while the test reads them: every read
/// works on a copy taken under the lock, so a line arriving mid-read cannot break the enumeration.
/// </summary>
public sealed class EventLineCollection : IReadOnlyCollection<string>
{
    private readonly List<string> lines = [];

    public int Count
    {
        get
        {
            lock (lines)
            {
                return lines.Count;
            }
        }
    }

    public void Add(string line)
    {
        lock (lines)
        {
            lines.Add(line);
        }
    }

    public IReadOnlyList<string> Snapshot()
    {
        lock (lines)
        {
            return [.. lines];
        }
    }

    public IEnumerator<string> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
