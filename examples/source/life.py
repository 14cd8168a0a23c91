"""Writing, cooking, travel, health and household sessions."""

from .dsl import A, Chat, U

CHATS = [
    Chat(
        "2026-01-14T19:30",
        "mistral-nemo:12b",
        [
            U(
                "Help me write a short cover letter for a data engineer job at a logistics company. I have 4 years of Python and Airflow, built pipelines for a retailer."
            ),
            A(
                "Dear Hiring Team,\n\nFor the past four years I have built the data pipelines a national retailer runs on: Airflow DAGs that move 200 million rows a day from stores, warehouses and the web shop into the warehouse, tested, monitored and on time. Logistics is the same problem at a larger scale, inventory, routes and deadlines that do not move, and that is why your data engineer role caught my eye.\n\nIn my current role I cut the nightly load from six hours to ninety minutes by moving transforms into incremental models, and I introduced data-quality checks that now stop bad files before they reach reports.\n\nI would be glad to talk about how I could help your team.\n\nKind regards,\nSam Ortega\n\nReplace the figures with your real ones: concrete numbers are what make it credible."
            ),
            U("make it less formal, it's a startup"),
            A(
                "Hi there,\n\nI've spent four years making sure a big retailer's data shows up on time: Airflow, Python, and a lot of 3 a.m. alerts I eventually made go away. Your job post reads like the same puzzle with trucks in it, and I'd love to work on it.\n\nA couple of things I'm proud of: taking our nightly load from six hours to ninety minutes, and data checks that catch broken files before anyone's dashboard does.\n\nHappy to chat whenever suits you.\n\nSam"
            ),
        ],
    ),
    Chat(
        "2026-06-01T21:10",
        "phi4:14b",
        [
            U(
                "I'm best man at my brother Tom's wedding on Saturday. Need a 2 minute toast, funny but kind. He met Priya at a climbing gym."
            ),
            A(
                "Good evening everyone. For those who don't know me, I'm Dan, Tom's younger brother, which means I've spent thirty years being beaten by him at everything except, it turns out, getting married second.\n\nTom has always liked a challenge. When he took up climbing, he spent three months stuck on the same purple route at the gym. Every week he came home and told me about it. Then one week he stopped talking about the purple route and started talking about Priya, who, it turns out, had done it on her first try.\n\nPriya, you did what none of us could: you got Tom to admit someone else was better at something. And Tom, I've never seen you happier, or more willing to ask for help.\n\nSo please raise your glasses: to Tom and Priya, may every route you take together be one you climb side by side. To Tom and Priya!"
            ),
            U("love it. how long is that read aloud?"),
            A(
                "About 200 words, so around 1 minute 40 seconds at a relaxed pace with pauses for laughs. Practise it out loud twice and you'll land right at two minutes."
            ),
        ],
    ),
    Chat(
        "2026-02-20T18:02",
        "llama3.2:3b",
        [
            U(
                "Write an email to my landlord: heating in the flat has been broken for 9 days, I reported it on the 11th, nobody came."
            ),
            A(
                "Subject: Heating still not working, reported 11 February\n\nDear Mr Hughes,\n\nI am writing about the heating at Flat 3, 14 Alder Road, which has not worked since 11 February. I reported the fault by phone that day and have not heard back or had a visit since, nine days now.\n\nThe flat is currently around 13°C, which is not liveable in February. Please arrange a repair within the next 48 hours and let me know the date and time of the visit. If that is not possible, please tell me what temporary heating you will provide in the meantime.\n\nI am keeping a record of the dates and temperatures in case I need to contact the council's housing team.\n\nKind regards,\nAlex Moreau"
            ),
        ],
    ),
    Chat(
        "2026-10-25T22:40",
        "mistral-nemo:12b",
        [
            U(
                "Give me the opening paragraph of a short story about a lighthouse keeper who finds a letter addressed to her, dated fifty years in the future."
            ),
            A(
                "The letter was wedged behind the lamp's brass fitting, where no hand but hers had reached in eleven years, and it was dry, which was the first impossible thing. The second was her name on the envelope, in a careful hand she did not know. The third, which she read three times by the slow sweep of the beam before she trusted it, was the date: the twenty-ninth of October, 2076. Outside, the sea kept its usual counsel. Maren set the kettle on, because that is what you do, and did not open it until the water boiled."
            ),
            U("continue, one more paragraph, she opens it"),
            A(
                "Inside was a single sheet and a pressed sprig of sea thrift, the pink gone to the colour of old paper. *You will want to burn this,* it began, *and you will not, because you never could leave a thing unread.* Maren laughed, once, sharply, at being known. The writing told her the storm would come on the fourth of November, that the relief boat would not, and that the light must not go out on the night of the sixth, whatever the radio said. It was signed with an initial only. M."
            ),
        ],
    ),
    Chat(
        "2026-02-08T09:20",
        "gemma3:4b",
        [
            U("My sourdough starter smells like nail polish remover and isn't rising much. It's 5 days old."),
            A(
                "That acetone smell means the yeast and bacteria are hungry: they've eaten through the flour and are producing ethyl acetate. It's normal at day 5 and not harmful.\n\n- Feed more often, or more at once: keep 50 g starter, add 100 g flour and 100 g water (1:2:2) twice a day.\n- Use some whole wheat or rye in the flour; it has more nutrients.\n- Keep it warm, 24 to 26°C; on top of the fridge or in the oven with the light on.\n\nMost starters become reliable between day 7 and 14. It's ready when it doubles within 4 to 8 hours of a feed and smells pleasantly sour."
            ),
        ],
    ),
    Chat(
        "2026-04-11T17:45",
        "phi4:14b",
        [
            U("Vegetarian lasagna for 8 people, one of them doesn't eat mushrooms. Quantities please."),
            A(
                "Roasted vegetable and spinach lasagna, one 33x23 cm dish plus a small one, serves 8:\n\n**Vegetables**\n- 2 aubergines, 3 courgettes, 2 red peppers, diced, tossed with 4 tbsp olive oil, roasted 25 min at 220°C\n- 400 g fresh spinach, wilted and squeezed dry\n\n**Tomato sauce**\n- 2 onions, 4 garlic cloves, 2 x 400 g tins chopped tomatoes, 2 tbsp tomato paste, 1 tsp dried oregano, simmer 20 min\n\n**Béchamel**\n- 80 g butter, 80 g flour, 1 litre milk, nutmeg, salt\n\n**Assembly**\n- 500 g dried lasagna sheets, 500 g ricotta mixed with the spinach and an egg, 250 g grated mozzarella, 80 g parmesan (use a vegetarian hard cheese: traditional parmesan uses animal rennet)\n\nLayer sauce, sheets, vegetables, ricotta-spinach, béchamel; repeat three times; finish with béchamel, mozzarella and parmesan. Bake covered 25 min at 190°C, then 20 min uncovered. Rest 15 minutes before cutting. No mushrooms anywhere."
            ),
        ],
    ),
    Chat(
        "2026-11-02T15:30",
        "gemma3:4b",
        [
            U(
                "tonkotsu ramen broth in a pressure cooker, is it possible? I have pork trotters and neck bones."
            ),
            A(
                "Yes, and it saves about ten hours. The pressure cooker's hard boil is exactly what emulsifies the fat and collagen into the milky broth.\n\n1. Blanch 1 kg trotters and 1 kg neck bones: cover with cold water, boil 10 minutes, drain, scrub off the grey scum.\n2. Back in the cooker with 2.5 litres water, an onion, a head of garlic halved, a thumb of ginger. Don't fill above the max line.\n3. Cook at high pressure for 2 hours, then let the pressure release naturally.\n4. Open and boil hard, lid off, for 30 to 45 minutes while stirring: this is when it turns opaque and creamy.\n5. Strain and season per bowl with tare (soy, mirin, salt), not the whole pot.\n\nAdd a few chicken feet in step 2 if you have them: more gelatine, better body."
            ),
        ],
    ),
    Chat(
        "2026-05-18T11:15",
        "llama3.2:3b",
        [
            U("recipe needs 250 ml buttermilk, I have none"),
            A(
                "Stir 1 tablespoon (15 ml) lemon juice or white vinegar into 250 ml milk and let it stand 5 to 10 minutes until it thickens slightly. Plain yogurt thinned with milk (about 3 parts yogurt to 1 part milk) also works and gives a closer taste, especially for pancakes and scones."
            ),
        ],
    ),
    Chat(
        "2026-04-28T20:50",
        "mistral-nemo:12b",
        [
            U(
                "Plan 4 days in Lisbon for me and my partner in mid-May. We like food, walking, a bit of history, not big on museums."
            ),
            A(
                "**Day 1, Alfama and Baixa.** Morning walk up through Alfama's lanes to the Miradouro de Santa Luzia and the castle (Castelo de São Jorge: go at opening time). Lunch of grilled sardines in Alfama. Afternoon down to Praça do Comércio and Baixa. Evening: a small fado house in Alfama, book ahead.\n\n**Day 2, Belém.** Tram 15 to Belém: Jerónimos Monastery from outside (the cloister is worth the ticket), Belém Tower, and the original pastéis de Belém, the queue moves fast. Walk back along the river to LX Factory for dinner.\n\n**Day 3, Sintra day trip.** Train from Rossio (40 min). Pena Palace gardens and Quinta da Regaleira with its initiation well. Start early; it gets crowded by 11.\n\n**Day 4, Príncipe Real and Bairro Alto.** Saturday-ish market at Príncipe Real, the botanical garden, Time Out Market for lunch if you want variety, sunset at Miradouro de São Pedro de Alcântara, dinner in Bairro Alto.\n\nWear shoes with grip: the limestone pavements are slippery. Get a Viva Viagem card for trams, metro and the Sintra train."
            ),
            U("what's a good restaurant for the last night, not too touristy, seafood?"),
            A(
                "I can't check current reviews, so treat these as leads to verify: the marisqueiras (seafood houses) around Cais do Sodré and in Almada across the river, reached by the ferry from Cais do Sodré, are where locals go for clams à Bulhão Pato, garlic prawns and grilled fish priced by weight. Look for places where the day's fish is on ice at the door and the menu is in Portuguese first."
            ),
            U("Almada by ferry sounds lovely. Is it ok at night?"),
            A(
                "Yes: the Cacilhas ferry runs until late evening, the crossing takes about 10 minutes and the restaurants line the quay right by the pier. Check the last return sailing on the day, as it changes with the season."
            ),
        ],
    ),
    Chat(
        "2026-08-03T08:40",
        "phi4:14b",
        [
            U("Is the Japan Rail Pass still worth it for Tokyo, Kyoto, Osaka and back to Tokyo in 10 days?"),
            A(
                "Usually not any more. Since the October 2023 price rise the 7-day pass costs about 50,000 yen, while a Tokyo to Kyoto Shinkansen single is around 14,000 yen; Kyoto to Osaka is a cheap local train; Osaka back to Tokyo is about 14,500 yen. That's roughly 29,000 to 30,000 yen of long-distance travel, well below the pass price.\n\nBuy point-to-point tickets instead (at the station or with the smartEX app), and use an IC card like Suica or ICOCA for local trains and subways. The pass only pays off if you add long trips such as Hiroshima or Kanazawa within the 7 days."
            ),
        ],
    ),
    Chat(
        "2026-11-20T19:00",
        "llama3.2:3b",
        [
            U("packing list for Iceland in late January, 6 days, ring road partly, self-drive"),
            A(
                "**Layers**: merino base layers (top and bottom), a fleece mid-layer, a down or synthetic puffy, a waterproof and windproof shell jacket and trousers. Wind is the real enemy.\n**Extremities**: warm hat, buff, liner gloves plus waterproof mittens, wool socks (4 pairs), waterproof hiking boots with good tread, and **microspikes** for icy paths at waterfalls.\n**Driving**: phone mount and car charger, offline maps, check road.is and the safetravel.is alerts every morning; in January expect closures, so plan short days (about 5 hours of light).\n**Other**: swimsuit for hot pools, headlamp, sunglasses (low sun on snow), reusable bottle, a small thermos, snacks for long stretches without shops.\n\nRent a 4x4 with studded tyres and take the gravel and sand insurance."
            ),
        ],
    ),
    Chat(
        "2026-06-22T07:30",
        "mistral-nemo:12b",
        [
            U(
                "My knee hurts on the outside after about 5 km of running, fine when walking. Started training for a half marathon 3 weeks ago."
            ),
            A(
                "I'm not a doctor, and pain that persists deserves a proper look by a physio or sports doctor. That said, pain on the outside of the knee that starts at a predictable distance and eases at rest is the classic pattern of iliotibial band syndrome, common when mileage goes up quickly.\n\nWhat usually helps:\n- Cut back to a distance that doesn't hurt and build up by about 10% a week.\n- Strengthen the hips: side-lying leg raises, clamshells, single-leg squats.\n- Avoid running only on cambered roads or always the same direction on a track.\n- Check your shoes' mileage.\n\nSee someone promptly if there's swelling, locking, the knee gives way, or pain at rest."
            ),
        ],
    ),
    Chat(
        "2026-07-08T23:55",
        "gemma3:4b",
        [
            U("I can't fall asleep before 2am and I have to be up at 7. tips that actually work?"),
            A(
                "The most reliable lever is a fixed wake time, every day including weekends: get up at 7 and go outside into daylight for 10 to 20 minutes soon after. Morning light moves your body clock earlier within a week or two.\n\nAlso:\n- No caffeine after about 1 pm.\n- Dim lights and screens an hour before bed; bright light at night pushes the clock later.\n- Go to bed only when sleepy; if you're awake for more than ~20 minutes, get up and do something calm in dim light.\n- Keep the bedroom cool, dark and quiet.\n\nIf it persists for months or you're sleepy during the day despite this, talk to a doctor: CBT for insomnia works better than sleeping pills in the long run."
            ),
        ],
    ),
    Chat(
        "2026-09-05T18:20",
        "qwen2.5-7b-instruct-q4_k_m",
        provider="openai",
        turns=[
            U(
                "Beginner strength training plan, 3 days a week, I have access to a gym. 35 years old, never lifted."
            ),
            A(
                "A simple full-body plan, three days a week with a rest day between (for example Monday, Wednesday, Friday), alternating two workouts:\n\n**Workout A**: squat 3x5, bench press 3x5, barbell row 3x8, plank 3x30 s\n**Workout B**: deadlift 1x5 (after warm-up sets), overhead press 3x5, lat pulldown 3x10, back extension 2x12\n\nStart light enough that your form is perfect, then add 2.5 kg to squat and deadlift and 1 to 2.5 kg to the presses each session while every rep stays clean. When you stall twice in a row, drop the weight by 10% and build back.\n\nWarm up with 5 minutes of easy cardio and two lighter sets of the first lift. Book one session with a coach to check your squat and deadlift form."
            ),
        ],
    ),
    Chat(
        "2026-07-19T10:05",
        "llama3.2:3b",
        [
            U("My tomato plants have black, leathery patches on the bottom of the fruit. What is it?"),
            A(
                "That's blossom end rot. It is caused by a calcium shortage in the developing fruit, but almost never by a lack of calcium in the soil: the plant can't move calcium when watering is irregular.\n\n- Water deeply and regularly, so the soil never swings from bone dry to soaked; containers may need daily watering in summer.\n- Mulch to keep moisture even.\n- Don't over-feed with high-nitrogen fertiliser.\n\nPick off affected fruit; the next trusses usually come out fine once watering is steady."
            ),
        ],
    ),
    Chat(
        "2026-08-28T21:35",
        "gemma3:4b",
        [
            U("my car battery dies if I don't drive it for 4 days. new battery last year."),
            A(
                "A healthy battery in a modern car should easily sit for a couple of weeks, so something is drawing current with the car off (a parasitic drain), or the alternator isn't charging it fully.\n\n1. Have the battery and charging system tested; most parts shops do it free. At idle with lights off you should see about 13.8 to 14.5 V at the terminals.\n2. Check for the obvious: glovebox or boot light staying on, a dash cam wired to permanent power, an aftermarket alarm.\n3. Measure the drain: multimeter in series on the negative terminal after the car has 'gone to sleep' (30 to 45 minutes). Over about 50 mA is too much. Pull fuses one at a time until it drops to find the circuit."
            ),
        ],
    ),
]
